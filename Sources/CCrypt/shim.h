#ifndef SEEDGEN_CCRYPT_SHIM_H
#define SEEDGEN_CCRYPT_SHIM_H
#include <crypt.h>
#endif
