#define _GNU_SOURCE
#include "CJournalSupport.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

// ioprio_set(2) has no glibc wrapper; these are its constants from linux/ioprio.h.
#define REGISTRE_IOPRIO_WHO_PROCESS 1
#define REGISTRE_IOPRIO_CLASS_IDLE 3
#define REGISTRE_IOPRIO_CLASS_SHIFT 13

int registre_make_thread_background(void) {
    pid_t tid = (pid_t)syscall(SYS_gettid);
    int failures = 0;
    // On Linux, nice applies to the thread named by its id, not to the whole process.
    if (setpriority(PRIO_PROCESS, (id_t)tid, 19) != 0) failures |= 1;
    if (syscall(SYS_ioprio_set, REGISTRE_IOPRIO_WHO_PROCESS, tid, REGISTRE_IOPRIO_CLASS_IDLE << REGISTRE_IOPRIO_CLASS_SHIFT) != 0) failures |= 2;
    return failures;
}
