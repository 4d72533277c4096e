#ifndef SEEDGEN_CURL_PROBE_H
#define SEEDGEN_CURL_PROBE_H

#include <stddef.h>

/// What one transfer driven through seedgen's libcurl functions delivered to its write callback.
struct curl_probe_result {
    size_t bytes;      // body bytes the write callback received
    size_t callbacks;  // how many times it was called
    size_t largest;    // the largest block it was given
    int late_calls;    // calls made outside curl_multi_socket_action (must stay 0)
    int curl_code;     // the transfer's CURLcode, from curl_multi_info_read
    long http_status;
};

/// Fetches `url` the way URLSession drives libcurl (a multi handle, curl_multi_socket_action on
/// socket events, a 16 KiB receive buffer asked for), writing the body to `output_path`.
/// Returns 0 when the transfer ran to an end (successful or not), -1 when the probe itself failed.
int curl_probe_fetch(const char *url, const char *output_path, struct curl_probe_result *result);

#endif
