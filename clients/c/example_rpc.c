/*
 * Example pipe-io RPC plugin in C: answers the JSON-RPC 2.0 method "add" with
 * two integers by position, {"jsonrpc":"2.0","id":1,"method":"add","params":[2,3]}
 * -> {"jsonrpc":"2.0","id":1,"result":5}, and exits 0 when the host stops it.
 *
 *     cc -I clients/c -o example_rpc clients/c/example_rpc.c clients/c/pipe_io_client.c
 *     pipe-io call add '[2, 3]' -- ./example_rpc
 *
 * No JSON library: messages of a fixed shape need only a small scanner that
 * finds a member of the top-level object and skips the rest. The id is copied
 * back verbatim (number, string or null), as the specification asks. What it
 * does not do: batches (answered with one -32600), and checking that the whole
 * line is valid JSON (a line its scanner cannot follow gets -32700). Lines
 * without "method" are responses or junk and get no reply; neither do
 * notifications (no "id"), $/cancelRequest included.
 */
#define _POSIX_C_SOURCE 200809L

#include "pipe_io_client.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\r')
        p++;
    return p;
}

/* p is at a '"': returns the position after the closing quote, or NULL. */
static const char *skip_string(const char *p)
{
    for (p++; *p != '\0' && *p != '"'; p++)
        if (*p == '\\' && p[1] != '\0')
            p++;
    return *p == '"' ? p + 1 : NULL;
}

/* Returns the position after the JSON value at p, or NULL. */
static const char *skip_value(const char *p)
{
    int depth = 0;
    p = ws(p);
    if (*p == '"')
        return skip_string(p);
    if (*p == '{' || *p == '[') {
        do {
            if (*p == '"') {
                if ((p = skip_string(p)) == NULL)
                    return NULL;
                continue;
            }
            if (*p == '{' || *p == '[')
                depth++;
            else if (*p == '}' || *p == ']')
                depth--;
            p++;
        } while (*p != '\0' && depth > 0);
        return depth == 0 ? p : NULL;
    }
    while (*p != '\0' && *p != ',' && *p != '}' && *p != ']' && *p != ' ')
        p++;
    return p;
}

/*
 * Finds the member `key` of the object in `line`: 0 with [*value, *end) its
 * raw JSON text, 1 if there is no such member, -1 if the line is not an
 * object this scanner can follow. With key NULL it only checks the whole line.
 */
static int member(const char *line, const char *key, const char **value, const char **end)
{
    const char *p = ws(line);
    if (*p != '{')
        return -1;
    p = ws(p + 1);
    while (*p == '"') {
        const char *name = p + 1, *after = skip_string(p);
        size_t len;
        if (after == NULL)
            return -1;
        len = (size_t)(after - 1 - name);
        p = ws(after);
        if (*p != ':')
            return -1;
        *value = ws(p + 1);
        if ((p = skip_value(*value)) == NULL)
            return -1;
        *end = p;
        if (key != NULL && len == strlen(key) && memcmp(name, key, len) == 0)
            return 0;
        p = ws(p);
        if (*p != ',')
            break;
        p = ws(p + 1);
    }
    return *p == '}' && *ws(p + 1) == '\0' ? 1 : -1;
}

/* Reads "[A, B]" of two integers; 0 on success. */
static int two_integers(const char *p, long long *a, long long *b)
{
    char *end;
    p = ws(p);
    if (*p++ != '[')
        return -1;
    errno = 0;
    *a = strtoll(p, &end, 10);
    if (end == p || errno != 0)
        return -1;
    p = ws(end);
    if (*p++ != ',')
        return -1;
    *b = strtoll(p, &end, 10);
    if (end == p || errno != 0)
        return -1;
    p = ws(end);
    return *p == ']' ? 0 : -1;
}

/* Sends {"jsonrpc":"2.0","id":ID,BODY}; ID is raw JSON. */
static int reply(pipe_io_client *client, const char *id, size_t id_len, const char *body)
{
    size_t cap = id_len + strlen(body) + 32;
    char *out = malloc(cap);
    int n, status;
    if (out == NULL)
        return -1;
    n = snprintf(out, cap, "{\"jsonrpc\":\"2.0\",\"id\":%.*s,%s}", (int)id_len, id, body);
    status = pipe_io_send(client, out, (size_t)n);
    free(out);
    return status;
}

static int answer(pipe_io_client *client, const char *line)
{
    const char *method, *method_end, *id, *id_end, *params, *params_end;
    char body[96];
    long long a, b;
    int has_id;

    if (*ws(line) == '[')
        return reply(client, "null", 4, "\"error\":{\"code\":-32600,\"message\":\"Invalid Request\"}");
    if (member(line, NULL, &method, &method_end) < 0)
        return reply(client, "null", 4, "\"error\":{\"code\":-32700,\"message\":\"Parse error\"}");
    if (member(line, "method", &method, &method_end) == 1)
        return 0; /* a response (or junk): never answered */
    has_id = member(line, "id", &id, &id_end) == 0;
    if (!has_id)
        return 0; /* a notification */
    if ((size_t)(method_end - method) != 5 || memcmp(method, "\"add\"", 5) != 0)
        return reply(client, id, (size_t)(id_end - id), "\"error\":{\"code\":-32601,\"message\":\"Method not found\"}");
    if (member(line, "params", &params, &params_end) != 0 || two_integers(params, &a, &b) != 0)
        return reply(client, id, (size_t)(id_end - id), "\"error\":{\"code\":-32602,\"message\":\"Invalid params: add takes [integer, integer]\"}");
    if ((b > 0 && a > LLONG_MAX - b) || (b < 0 && a < LLONG_MIN - b))
        return reply(client, id, (size_t)(id_end - id), "\"error\":{\"code\":-32602,\"message\":\"Invalid params: the sum overflows\"}");
    snprintf(body, sizeof body, "\"result\":%lld", a + b);
    return reply(client, id, (size_t)(id_end - id), body);
}

int main(void)
{
    pipe_io_client *client = pipe_io_open(NULL, NULL, -1);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int status = 0;

    if (client == NULL) {
        perror("pipe_io_open");
        return 1;
    }
    while ((len = pipe_io_recv(client, &line, &cap)) >= 0) {
        if (answer(client, line) < 0) {
            if (errno != EPIPE) { /* EPIPE: the host stopped before our reply */
                perror("pipe_io_send");
                status = 1;
            }
            break;
        }
    }
    if (len == PIPE_IO_ERROR) {
        perror("pipe_io_recv");
        status = 1;
    }
    free(line);
    pipe_io_close(client);
    return status;
}
