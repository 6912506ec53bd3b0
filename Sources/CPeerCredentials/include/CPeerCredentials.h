#ifndef REGISTRE_CPEERCREDENTIALS_H
#define REGISTRE_CPEERCREDENTIALS_H
#include <stdint.h>

/// The credentials of the process at the other end of a Unix socket (SO_PEERCRED).
typedef struct {
    int32_t pid;
    uint32_t uid;
    uint32_t gid;
} registre_peer_credentials;

/// Fills `out` for the connected Unix socket `fd`; returns 0, or -1 with errno set.
int registre_peer_credentials_get(int fd, registre_peer_credentials *out);

#endif
