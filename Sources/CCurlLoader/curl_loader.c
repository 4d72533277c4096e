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
//
// Two of the functions also change how body data reaches URLSession, for download speed: libcurl
// may read 512 KiB per socket wake-up (curl_easy_setopt), and its 16 KiB write callbacks are
// gathered into blocks of up to 1 MiB ("Body bytes gathered" below). Tests/CurlProbe drives these
// functions as URLSession does, for the tests in Tests/ImageTests/CurlLoaderTests.swift.
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

// The largest receive buffer every libcurl since 7.53 accepts (CURL_MAX_READ_SIZE then).
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

// Body bytes gathered into large blocks before URLSession sees them.
//
// libcurl hands body data to its write callback in pieces of at most 16 KiB (CURL_MAX_WRITE_SIZE,
// fixed when libcurl is built), and URLSession turns every piece into a Data, an operation on the
// delegate queue and a new Dispatch timer: on a 1 GiB loopback download that cost more CPU than
// hashing the bytes. So each easy handle's write callback is replaced by one that gathers the
// pieces, and URLSession's callback receives them in blocks of up to SEEDGEN_GATHER_SIZE: when a
// block is full, and at the end of every libcurl call that can write (curl_multi_socket_action,
// curl_easy_pause), on the thread that made the call. libcurl only writes inside those calls, so
// no byte waits across them, and the order of header and body callbacks is kept.
//
// URLSession's body callback always takes every byte (it never pauses a transfer); should a
// callback take fewer, the transfer is failed at the next piece, as libcurl would have.
#define SEEDGEN_GATHER_SIZE (1024 * 1024)

typedef size_t (*write_function)(char *, size_t, size_t, void *);

struct write_gather {
    CURL *handle;
    write_function target; // NULL: libcurl's default, fwrite to target_data
    void *target_data;
    char *bytes;
    size_t count;
    int failed;
    int queued;
    struct write_gather *next;        // all gathers, under gathers_lock
    struct write_gather *next_queued; // this thread's gathers holding bytes
};

static pthread_mutex_t gathers_lock = PTHREAD_MUTEX_INITIALIZER;
static struct write_gather *gathers;
static __thread struct write_gather *queued_gathers;

static struct write_gather *find_gather(CURL *handle) {
    pthread_mutex_lock(&gathers_lock);
    struct write_gather *gather = gathers;
    while (gather != NULL && gather->handle != handle) gather = gather->next;
    pthread_mutex_unlock(&gathers_lock);
    return gather;
}

static size_t deliver(struct write_gather *gather, char *bytes, size_t count) {
    if (gather->target == NULL) return fwrite(bytes, 1, count, (FILE *)gather->target_data);
    return gather->target(bytes, 1, count, gather->target_data);
}

static void flush_gather(struct write_gather *gather) {
    size_t count = gather->count;
    gather->count = 0;
    if (count == 0 || gather->failed) return;
    if (deliver(gather, gather->bytes, count) != count) gather->failed = 1;
}

static void flush_queued_gathers(void) {
    while (queued_gathers != NULL) {
        struct write_gather *gather = queued_gathers;
        queued_gathers = gather->next_queued;
        gather->next_queued = NULL;
        gather->queued = 0;
        flush_gather(gather);
    }
}

static size_t gathering_write(char *data, size_t size, size_t items, void *userdata) {
    struct write_gather *gather = userdata;
    size_t length = size * items;
    if (gather->failed) return 0;
    if (gather->bytes == NULL) {
        gather->bytes = malloc(SEEDGEN_GATHER_SIZE);
        if (gather->bytes == NULL) return deliver(gather, data, length);
    }
    if (length > SEEDGEN_GATHER_SIZE - gather->count) {
        flush_gather(gather);
        if (gather->failed) return 0;
        if (length > SEEDGEN_GATHER_SIZE) return deliver(gather, data, length);
    }
    memcpy(gather->bytes + gather->count, data, length);
    gather->count += length;
    if (!gather->queued) {
        gather->queued = 1;
        gather->next_queued = queued_gathers;
        queued_gathers = gather;
    }
    return length;
}

// Called for CURLOPT_WRITEFUNCTION and CURLOPT_WRITEDATA: the handle's gather takes the value and
// libcurl keeps writing to the gather.
static CURLcode set_write_option(CURL *handle, CURLoption option, void *argument) {
    struct write_gather *gather = find_gather(handle);
    if (gather == NULL) {
        gather = calloc(1, sizeof *gather);
        if (gather == NULL) return CURLE_OUT_OF_MEMORY;
        gather->handle = handle;
        gather->target_data = stdout;
        CURLcode code = real_easy_setopt(handle, CURLOPT_WRITEFUNCTION, (void *)gathering_write);
        if (code == CURLE_OK) code = real_easy_setopt(handle, CURLOPT_WRITEDATA, (void *)gather);
        if (code != CURLE_OK) {
            free(gather);
            return code;
        }
        pthread_mutex_lock(&gathers_lock);
        gather->next = gathers;
        gathers = gather;
        pthread_mutex_unlock(&gathers_lock);
    }
    if (option == CURLOPT_WRITEFUNCTION) {
        gather->target = (write_function)argument;
    } else {
        gather->target_data = argument;
    }
    return CURLE_OK;
}

static void forget_gather(CURL *handle) {
    pthread_mutex_lock(&gathers_lock);
    struct write_gather **link = &gathers;
    while (*link != NULL && (*link)->handle != handle) link = &(*link)->next;
    struct write_gather *gather = *link;
    if (gather != NULL) *link = gather->next;
    pthread_mutex_unlock(&gathers_lock);
    // A gather still queued would be flushed later by the thread that queued it; libcurl writes
    // only inside the calls that flush, so this does not happen, but if it did, the memory is
    // left to that flush rather than freed under it.
    if (gather != NULL && !gather->queued) {
        free(gather->bytes);
        free(gather);
    }
}

SEEDGEN_HIDDEN CURLcode curl_global_init(long flags) { require(); return real_global_init(flags); }
SEEDGEN_HIDDEN CURL *curl_easy_init(void) { require(); return real_easy_init(); }
SEEDGEN_HIDDEN void curl_easy_cleanup(CURL *handle) {
    require();
    real_easy_cleanup(handle);
    forget_gather(handle);
}
SEEDGEN_HIDDEN CURLcode curl_easy_pause(CURL *handle, int bitmask) {
    require();
    CURLcode code = real_easy_pause(handle, bitmask);
    flush_queued_gathers();
    return code;
}
SEEDGEN_HIDDEN const char *curl_easy_strerror(CURLcode code) { require(); return real_easy_strerror(code); }
SEEDGEN_HIDDEN void curl_free(void *pointer) { require(); real_free(pointer); }
SEEDGEN_HIDDEN CURLM *curl_multi_init(void) { require(); return real_multi_init(); }
SEEDGEN_HIDDEN CURLMcode curl_multi_cleanup(CURLM *multi) { require(); return real_multi_cleanup(multi); }
SEEDGEN_HIDDEN CURLMcode curl_multi_add_handle(CURLM *multi, CURL *handle) { require(); return real_multi_add_handle(multi, handle); }
SEEDGEN_HIDDEN CURLMcode curl_multi_remove_handle(CURLM *multi, CURL *handle) { require(); return real_multi_remove_handle(multi, handle); }
SEEDGEN_HIDDEN CURLMcode curl_multi_socket_action(CURLM *multi, curl_socket_t socket, int mask, int *running) {
    require();
    CURLMcode code = real_multi_socket_action(multi, socket, mask, running);
    flush_queued_gathers();
    return code;
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
        // (CURL_MAX_WRITE_SIZE), the limit of libcurl before 7.53, and libcurl then reads only
        // 16 KiB per socket wake-up.
        argument = (void *)(intptr_t)SEEDGEN_RECEIVE_BUFFER_SIZE;
    }
    if (option == CURLOPT_WRITEFUNCTION || option == CURLOPT_WRITEDATA) return set_write_option(handle, option, argument);
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
