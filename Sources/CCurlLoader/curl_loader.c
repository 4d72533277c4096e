// libcurl, loaded when seedgen first downloads instead of when it starts.
//
// With --static-swift-stdlib, Foundation's URLSession (FoundationNetworking and its C part,
// _CFURLSessionInterface) is linked into seedgen, and linking it against libcurl made every run
// load libcurl and the 40 libraries behind it (TLS, Kerberos, LDAP, ...): about 10 ms of the
// 18-22 ms a seedgen process needed to start, on runs that never download anything.
//
// This file defines the 23 libcurl functions _CFURLSessionInterface calls. Each one loads
// libcurl.so.4 with dlopen on first use (once, thread-safe) and calls the real function. The
// definitions are hidden, so they serve only seedgen's own static link and never stand in for
// libcurl's functions elsewhere; builds that link Foundation dynamically use libcurl directly.
// A host without libcurl can still run everything but downloads, which then fail with a message.
#define _GNU_SOURCE
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "curl_loader.h"

#define SEEDGEN_HIDDEN __attribute__((visibility("hidden")))

// CURL_MAX_READ_SIZE of libcurl 7.53 to 7.87 (later versions allow up to 10 MiB).
#define SEEDGEN_RECEIVE_BUFFER_SIZE (512 * 1024)

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static char load_error[512];

// The real functions, filled in by load().
static CURLcode (*real_global_init)(long);
static CURL *(*real_easy_init)(void);
static void (*real_easy_cleanup)(CURL *);
static CURLcode (*real_easy_setopt)(CURL *, CURLoption, ...);
static CURLcode (*real_easy_getinfo)(CURL *, CURLINFO, ...);
static CURLcode (*real_easy_pause)(CURL *, int);
static const char *(*real_easy_strerror)(CURLcode);
static void (*real_free)(void *);
static CURLM *(*real_multi_init)(void);
static CURLMcode (*real_multi_cleanup)(CURLM *);
static CURLMcode (*real_multi_add_handle)(CURLM *, CURL *);
static CURLMcode (*real_multi_remove_handle)(CURLM *, CURL *);
static CURLMcode (*real_multi_setopt)(CURLM *, CURLMoption, ...);
static CURLMcode (*real_multi_socket_action)(CURLM *, curl_socket_t, int, int *);
static CURLMcode (*real_multi_assign)(CURLM *, curl_socket_t, void *);
static CURLMsg *(*real_multi_info_read)(CURLM *, int *);
static struct curl_slist *(*real_slist_append)(struct curl_slist *, const char *);
static void (*real_slist_free_all)(struct curl_slist *);
static CURLU *(*real_url)(void);
static CURLUcode (*real_url_get)(CURLU *, CURLUPart, char **, unsigned int);
static CURLUcode (*real_url_set)(CURLU *, CURLUPart, const char *, unsigned int);
static char *(*real_version)(void);
static curl_version_info_data *(*real_version_info)(CURLversion);

static void load(void) {
    void *library = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        snprintf(load_error, sizeof load_error, "cannot load libcurl.so.4 (%s); install libcurl4", dlerror());
        return;
    }
    struct { const char *name; void **slot; } functions[] = {
        {"curl_global_init", (void **)&real_global_init},
        {"curl_easy_init", (void **)&real_easy_init},
        {"curl_easy_cleanup", (void **)&real_easy_cleanup},
        {"curl_easy_setopt", (void **)&real_easy_setopt},
        {"curl_easy_getinfo", (void **)&real_easy_getinfo},
        {"curl_easy_pause", (void **)&real_easy_pause},
        {"curl_easy_strerror", (void **)&real_easy_strerror},
        {"curl_free", (void **)&real_free},
        {"curl_multi_init", (void **)&real_multi_init},
        {"curl_multi_cleanup", (void **)&real_multi_cleanup},
        {"curl_multi_add_handle", (void **)&real_multi_add_handle},
        {"curl_multi_remove_handle", (void **)&real_multi_remove_handle},
        {"curl_multi_setopt", (void **)&real_multi_setopt},
        {"curl_multi_socket_action", (void **)&real_multi_socket_action},
        {"curl_multi_assign", (void **)&real_multi_assign},
        {"curl_multi_info_read", (void **)&real_multi_info_read},
        {"curl_slist_append", (void **)&real_slist_append},
        {"curl_slist_free_all", (void **)&real_slist_free_all},
        {"curl_url", (void **)&real_url},
        {"curl_url_get", (void **)&real_url_get},
        {"curl_url_set", (void **)&real_url_set},
        {"curl_version", (void **)&real_version},
        {"curl_version_info", (void **)&real_version_info},
    };
    for (size_t index = 0; index < sizeof functions / sizeof functions[0]; index++) {
        void *address = dlsym(library, functions[index].name);
        if (address == NULL) {
            snprintf(load_error, sizeof load_error, "libcurl.so.4 has no %s; install a newer libcurl4", functions[index].name);
            return;
        }
        *functions[index].slot = address;
    }
}

int seedgen_curl_load(void) {
    pthread_once(&load_once, load);
    return load_error[0] == '\0';
}

const char *seedgen_curl_load_error(void) {
    pthread_once(&load_once, load);
    return load_error[0] == '\0' ? NULL : load_error;
}

// URLSession cannot go on without libcurl, and its callers do not expect failures from these
// functions, so a missing library ends the process with the reason.
static void require(void) {
    if (!seedgen_curl_load()) {
        fprintf(stderr, "seedgen: downloading needs libcurl: %s\n", load_error);
        _exit(1);
    }
}

SEEDGEN_HIDDEN CURLcode curl_global_init(long flags) { require(); return real_global_init(flags); }
SEEDGEN_HIDDEN CURL *curl_easy_init(void) { require(); return real_easy_init(); }
SEEDGEN_HIDDEN void curl_easy_cleanup(CURL *handle) { require(); real_easy_cleanup(handle); }
SEEDGEN_HIDDEN CURLcode curl_easy_pause(CURL *handle, int bitmask) { require(); return real_easy_pause(handle, bitmask); }
SEEDGEN_HIDDEN const char *curl_easy_strerror(CURLcode code) { require(); return real_easy_strerror(code); }
SEEDGEN_HIDDEN void curl_free(void *pointer) { require(); real_free(pointer); }
SEEDGEN_HIDDEN CURLM *curl_multi_init(void) { require(); return real_multi_init(); }
SEEDGEN_HIDDEN CURLMcode curl_multi_cleanup(CURLM *multi) { require(); return real_multi_cleanup(multi); }
SEEDGEN_HIDDEN CURLMcode curl_multi_add_handle(CURLM *multi, CURL *handle) { require(); return real_multi_add_handle(multi, handle); }
SEEDGEN_HIDDEN CURLMcode curl_multi_remove_handle(CURLM *multi, CURL *handle) { require(); return real_multi_remove_handle(multi, handle); }
SEEDGEN_HIDDEN CURLMcode curl_multi_socket_action(CURLM *multi, curl_socket_t socket, int mask, int *running) {
    require();
    return real_multi_socket_action(multi, socket, mask, running);
}
SEEDGEN_HIDDEN CURLMcode curl_multi_assign(CURLM *multi, curl_socket_t socket, void *pointer) {
    require();
    return real_multi_assign(multi, socket, pointer);
}
SEEDGEN_HIDDEN CURLMsg *curl_multi_info_read(CURLM *multi, int *queued) { require(); return real_multi_info_read(multi, queued); }
SEEDGEN_HIDDEN struct curl_slist *curl_slist_append(struct curl_slist *list, const char *text) { require(); return real_slist_append(list, text); }
SEEDGEN_HIDDEN void curl_slist_free_all(struct curl_slist *list) { require(); real_slist_free_all(list); }
SEEDGEN_HIDDEN CURLU *curl_url(void) { require(); return real_url(); }
SEEDGEN_HIDDEN CURLUcode curl_url_get(CURLU *url, CURLUPart what, char **part, unsigned int flags) {
    require();
    return real_url_get(url, what, part, flags);
}
SEEDGEN_HIDDEN CURLUcode curl_url_set(CURLU *url, CURLUPart what, const char *part, unsigned int flags) {
    require();
    return real_url_set(url, what, part, flags);
}
SEEDGEN_HIDDEN char *curl_version(void) { require(); return real_version(); }
SEEDGEN_HIDDEN curl_version_info_data *curl_version_info(CURLversion age) { require(); return real_version_info(age); }

// The three variadic functions take exactly one argument after the option: a long, a pointer or
// a curl_off_t. On the 64-bit targets seedgen is built for, all three travel in the same
// integer register, so the argument is read and passed on as one 64-bit word.
SEEDGEN_HIDDEN CURLcode curl_easy_setopt(CURL *handle, CURLoption option, ...) {
    require();
    va_list arguments;
    va_start(arguments, option);
    void *argument = va_arg(arguments, void *);
    va_end(arguments);
    if (option == CURLOPT_BUFFERSIZE && (intptr_t)argument < SEEDGEN_RECEIVE_BUFFER_SIZE) {
        // URLSession asks for the largest buffer (Int.max) but clamps it to 16 KiB
        // (CURL_MAX_WRITE_SIZE), the limit of libcurl before 7.53. libcurl then reads 16 KiB per
        // socket wake-up, and URLSession hands each read to its delegate queue as one operation:
        // a thread switch per 16 KiB held a 1 GiB loopback download to about half of curl's speed.
        argument = (void *)(intptr_t)SEEDGEN_RECEIVE_BUFFER_SIZE;
    }
    return real_easy_setopt(handle, option, argument);
}

SEEDGEN_HIDDEN CURLcode curl_easy_getinfo(CURL *handle, CURLINFO info, ...) {
    require();
    va_list arguments;
    va_start(arguments, info);
    void *argument = va_arg(arguments, void *);
    va_end(arguments);
    return real_easy_getinfo(handle, info, argument);
}

SEEDGEN_HIDDEN CURLMcode curl_multi_setopt(CURLM *multi, CURLMoption option, ...) {
    require();
    va_list arguments;
    va_start(arguments, option);
    void *argument = va_arg(arguments, void *);
    va_end(arguments);
    return real_multi_setopt(multi, option, argument);
}

_Static_assert(sizeof(void *) == 8 && sizeof(long) == 8 && sizeof(curl_off_t) == 8,
               "the variadic forwarding above assumes a 64-bit target");
