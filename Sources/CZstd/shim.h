#ifndef REGISTRE_CZSTD_SHIM_H
#define REGISTRE_CZSTD_SHIM_H
#include <zstd.h>
#endif
