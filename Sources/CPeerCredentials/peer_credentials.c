#include "CPeerCredentials.h"
#include <sys/socket.h>
#include <stddef.h>

_Static_assert(sizeof(struct ucred) == 12, "struct ucred is pid, uid, gid");
_Static_assert(offsetof(struct ucred, uid) == 4, "ucred.uid follows pid");

int registre_peer_credentials_get(int fd, registre_peer_credentials *out) {
    struct ucred cred;
    socklen_t length = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0) return -1;
    out->pid = cred.pid;
    out->uid = cred.uid;
    out->gid = cred.gid;
    return 0;
}
