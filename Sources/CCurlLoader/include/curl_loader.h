#ifndef SEEDGEN_CURL_LOADER_H
#define SEEDGEN_CURL_LOADER_H

/// Loads libcurl now (it is otherwise loaded on the first call into it) and returns 1 when it and
/// every function Foundation's URLSession uses were found, 0 otherwise (see the message).
int seedgen_curl_load(void);

/// Why libcurl could not be loaded, or NULL when it was.
const char *seedgen_curl_load_error(void);

#endif
