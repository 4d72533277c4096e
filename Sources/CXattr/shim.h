// getxattr/setxattr (glibc): a `.part` download keeps the server's validator beside its bytes.
#include <sys/xattr.h>
