// A minimal libcurl event loop for tests: it drives a transfer through the libcurl functions
// seedgen's static builds define (Sources/CCurlLoader), in the way Foundation's URLSession uses
// them, so tests see what URLSession's write callback would be given.
#include "curl_probe.h"

#include <curl/curl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define PROBE_MAX_SOCKETS 8

struct probe_sockets {
    struct pollfd fds[PROBE_MAX_SOCKETS];
    int count;
};

struct probe_state {
    FILE *output;
    struct curl_probe_result *result;
    int inside_socket_action;
};

static int on_socket(CURL *easy, curl_socket_t socket, int what, void *user, void *socket_data) {
    (void)easy;
    (void)socket_data;
    struct probe_sockets *sockets = user;
    int index = 0;
    while (index < sockets->count && sockets->fds[index].fd != socket) index++;
    if (what == CURL_POLL_REMOVE) {
        if (index < sockets->count) sockets->fds[index] = sockets->fds[--sockets->count];
        return 0;
    }
    if (index == sockets->count) {
        if (sockets->count == PROBE_MAX_SOCKETS) return -1;
        sockets->count++;
    }
    sockets->fds[index].fd = socket;
    sockets->fds[index].events = (short)(((what & CURL_POLL_IN) ? POLLIN : 0) | ((what & CURL_POLL_OUT) ? POLLOUT : 0));
    return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *user) {
    (void)multi;
    *(long *)user = timeout_ms;
    return 0;
}

static size_t on_write(char *data, size_t size, size_t items, void *user) {
    struct probe_state *state = user;
    size_t length = size * items;
    state->result->callbacks++;
    state->result->bytes += length;
    if (length > state->result->largest) state->result->largest = length;
    if (!state->inside_socket_action) state->result->late_calls++;
    return fwrite(data, 1, length, state->output);
}

static double seconds_now(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

int curl_probe_fetch(const char *url, const char *output_path, struct curl_probe_result *result) {
    memset(result, 0, sizeof *result);
    result->curl_code = -1;
    struct probe_state state = {.output = fopen(output_path, "wb"), .result = result};
    if (state.output == NULL) return -1;
    struct probe_sockets sockets = {.count = 0};
    long timeout_ms = -1;
    CURLM *multi = curl_multi_init();
    CURL *easy = curl_easy_init();
    int status = -1;
    if (multi == NULL || easy == NULL) goto done;
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, &sockets);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, &timeout_ms);
    curl_easy_setopt(easy, CURLOPT_URL, url);
    curl_easy_setopt(easy, CURLOPT_NOPROXY, "*");
    // As URLSession sets them: its write data first, then its write function, a 16 KiB buffer.
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &state);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, 16384L);
    if (curl_multi_add_handle(multi, easy) != CURLM_OK) goto done;

    int running = 1;
    double deadline = seconds_now() + 60;
    while (running && seconds_now() < deadline) {
        int wait = timeout_ms < 0 || timeout_ms > 200 ? 200 : (int)timeout_ms;
        int ready = poll(sockets.fds, (nfds_t)sockets.count, wait);
        state.inside_socket_action = 1;
        if (ready <= 0) {
            curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
        } else {
            struct pollfd fired[PROBE_MAX_SOCKETS];
            int count = sockets.count;
            memcpy(fired, sockets.fds, sizeof fired);
            for (int index = 0; index < count; index++) {
                if (fired[index].revents == 0) continue;
                int mask = ((fired[index].revents & POLLIN) ? CURL_CSELECT_IN : 0)
                    | ((fired[index].revents & POLLOUT) ? CURL_CSELECT_OUT : 0)
                    | ((fired[index].revents & (POLLERR | POLLHUP)) ? CURL_CSELECT_ERR : 0);
                curl_multi_socket_action(multi, fired[index].fd, mask, &running);
            }
        }
        state.inside_socket_action = 0;
    }
    int queued = 0;
    CURLMsg *message;
    while ((message = curl_multi_info_read(multi, &queued)) != NULL) {
        if (message->msg == CURLMSG_DONE) result->curl_code = (int)message->data.result;
    }
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &result->http_status);
    curl_multi_remove_handle(multi, easy);
    status = running ? -1 : 0;
done:
    if (easy != NULL) curl_easy_cleanup(easy);
    if (multi != NULL) curl_multi_cleanup(multi);
    fclose(state.output);
    return status;
}
