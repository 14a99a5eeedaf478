#ifndef BASTION_CPKCS11_SHIM_H
#define BASTION_CPKCS11_SHIM_H

// p11-kit installs its header under an extra "p11-kit-1" directory that is not on the default
// include path. Reaching it by path keeps pkg-config (and its `-lp11-kit`) out of the build.
#if __has_include(<p11-kit/pkcs11.h>)
#include <p11-kit/pkcs11.h>
#elif __has_include("/usr/include/p11-kit-1/p11-kit/pkcs11.h")
#include "/usr/include/p11-kit-1/p11-kit/pkcs11.h"
#elif __has_include("/usr/local/include/p11-kit-1/p11-kit/pkcs11.h")
#include "/usr/local/include/p11-kit-1/p11-kit/pkcs11.h"
#elif __has_include("/opt/homebrew/include/p11-kit-1/p11-kit/pkcs11.h")
#include "/opt/homebrew/include/p11-kit-1/p11-kit/pkcs11.h"
#else
#error "PKCS#11 header not found: install libp11-kit-dev (Debian) or p11-kit (Homebrew)"
#endif

#include <dlfcn.h>

#endif
