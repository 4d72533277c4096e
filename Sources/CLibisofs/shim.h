#ifndef SEEDGEN_CLIBISOFS_SHIM_H
#define SEEDGEN_CLIBISOFS_SHIM_H
// libisofs.h uses uint32_t & co. without including <stdint.h> itself.
#include <stdint.h>
#include <stdlib.h>
// seedgen writes plain files and never drives libburn: let libisofs declare its own burn_source.
#define LIBISOFS_WITHOUT_LIBBURN 1
#include <libisofs/libisofs.h>
#endif
