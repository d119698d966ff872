/*
 * An inotify instance whose watches and masks the caller chooses (lib/inotify.ts, which says
 * why fs.watch() would not do: it watches a folder for every event on its entries, and that
 * costs every client's write() into a FIFO in it).
 *
 * The descriptor is non-blocking and polled by the event loop (uv_poll), so nothing waits in
 * the threadpool; the poll handle is unreferenced, so a watch never keeps a process alive.
 * Every read's events go to JavaScript in one call, as a flat array [wd, mask, wd, mask, ...].
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>
#include <node_api.h>
#include <uv.h>

#include "addon.h"

typedef struct {
  int fd;
  int closing;
  /* The JavaScript handle and the poll handle each hold the memory: freed when both let go. */
  int holders;
  napi_env env;
  napi_ref callback;
  napi_async_context context;
  napi_async_cleanup_hook_handle cleanup;
  uv_poll_t poll;
} Watcher;

static void let_go(Watcher *w) {
  if (--w->holders == 0) free(w);
}

static void on_closed(uv_handle_t *handle) {
  Watcher *w = handle->data;
  close(w->fd);
  napi_remove_async_cleanup_hook(w->cleanup);
  let_go(w);
}

static void on_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  let_go(data);
}

static void start_close(Watcher *w) {
  if (w->closing) return;
  w->closing = 1;
  uv_poll_stop(&w->poll);
  uv_close((uv_handle_t *)&w->poll, on_closed);
}

/* The environment is going away (a worker thread ending) while the watch is still open. */
static void on_cleanup(napi_async_cleanup_hook_handle handle, void *data) {
  (void)handle;
  start_close(data);
}

/* Sends the events of one read to JavaScript; an exception it throws becomes uncaught, as from any callback. */
static void deliver(Watcher *w, const char *buffer, ssize_t length) {
  napi_env env = w->env;
  napi_handle_scope scope;
  napi_value events, callback, global, value, exception;
  uint32_t index = 0;
  napi_open_handle_scope(env, &scope);
  napi_create_array(env, &events);
  for (const char *p = buffer; p < buffer + length;) {
    const struct inotify_event *event = (const struct inotify_event *)p;
    napi_create_int32(env, event->wd, &value);
    napi_set_element(env, events, index++, value);
    napi_create_uint32(env, event->mask, &value);
    napi_set_element(env, events, index++, value);
    /* The entry's name, if any, is not needed: every watch is on the inode it is about. */
    p += sizeof(struct inotify_event) + event->len;
  }
  napi_get_reference_value(env, w->callback, &callback);
  napi_get_global(env, &global);
  if (napi_make_callback(env, w->context, global, callback, 1, &events, NULL) == napi_pending_exception &&
      napi_get_and_clear_last_exception(env, &exception) == napi_ok) {
    napi_fatal_exception(env, exception);
  }
  napi_close_handle_scope(env, scope);
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  Watcher *w = handle->data;
  /* Aligned as the kernel writes it; big enough for many events at once. */
  char buffer[16 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
  (void)events;
  if (status < 0) return;
  while (!w->closing) {
    ssize_t length = read(w->fd, buffer, sizeof buffer);
    if (length < 0 && errno == EINTR) continue;
    if (length <= 0) return; /* EAGAIN: all read */
    deliver(w, buffer, length);
  }
}

static Watcher *unwrap(napi_env env, napi_value value) {
  void *data = NULL;
  if (napi_get_value_external(env, value, &data) != napi_ok || data == NULL || ((Watcher *)data)->closing) {
    napi_throw_type_error(env, NULL, "inotify: not an open watcher");
    return NULL;
  }
  return data;
}

/* inotifyOpen(onEvents: (events: number[]) => void): Watcher */
static napi_value inotify_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], name, result;
  napi_valuetype type;
  uv_loop_t *loop;
  Watcher *w;
  int err;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 1 || napi_typeof(env, argv[0], &type) != napi_ok || type != napi_function) {
    napi_throw_type_error(env, NULL, "inotifyOpen(onEvents: function)");
    return NULL;
  }
  w = calloc(1, sizeof(Watcher));
  if (w == NULL) {
    napi_throw_error(env, "ENOMEM", "inotify: out of memory");
    return NULL;
  }
  w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (w->fd < 0) {
    err = errno;
    free(w);
    /* code as Node names it (EMFILE: the per-user limit of instances), for lib/inotify.ts's callers. */
    napi_throw_error(env, uv_err_name(-err), strerror(err));
    return NULL;
  }
  napi_get_uv_event_loop(env, &loop);
  uv_poll_init(loop, &w->poll, w->fd);
  w->poll.data = w;
  w->env = env;
  uv_poll_start(&w->poll, UV_READABLE, on_readable);
  uv_unref((uv_handle_t *)&w->poll);
  napi_create_reference(env, argv[0], 1, &w->callback);
  napi_create_string_utf8(env, "pipe-io-server:inotify", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &w->context);
  napi_add_async_cleanup_hook(env, on_cleanup, w, &w->cleanup);
  w->holders = 2;
  napi_create_external(env, w, on_finalize, NULL, &result);
  return result;
}

/* inotifyAdd(watcher, path: string, mask: number): watch descriptor (>= 0) or -errno */
static napi_value inotify_add(napi_env env, napi_callback_info info) {
  size_t argc = 3, length = 0;
  napi_value argv[3], result;
  uint32_t mask = 0;
  char *path;
  int wd;
  Watcher *w;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 3 || (w = unwrap(env, argv[0])) == NULL) return NULL;
  if (napi_get_value_string_utf8(env, argv[1], NULL, 0, &length) != napi_ok || napi_get_value_uint32(env, argv[2], &mask) != napi_ok) {
    napi_throw_type_error(env, NULL, "inotifyAdd(watcher, path: string, mask: number)");
    return NULL;
  }
  path = malloc(length + 1);
  if (path == NULL) {
    napi_throw_error(env, "ENOMEM", "inotify: out of memory");
    return NULL;
  }
  napi_get_value_string_utf8(env, argv[1], path, length + 1, &length);
  wd = inotify_add_watch(w->fd, path, mask);
  if (wd < 0) wd = -errno;
  free(path);
  napi_create_int32(env, wd, &result);
  return result;
}

/* inotifyRemove(watcher, wd: number): void (a watch the kernel already ended is no error) */
static napi_value inotify_remove(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t wd = -1;
  Watcher *w;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 2 || (w = unwrap(env, argv[0])) == NULL) return NULL;
  napi_get_value_int32(env, argv[1], &wd);
  inotify_rm_watch(w->fd, wd);
  return NULL;
}

/* inotifyClose(watcher): void; no event is delivered after it. */
static napi_value inotify_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  Watcher *w;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 1 || (w = unwrap(env, argv[0])) == NULL) return NULL;
  napi_delete_reference(env, w->callback);
  napi_async_destroy(env, w->context);
  start_close(w);
  return NULL;
}

void inotify_register(napi_env env, napi_value exports) {
  static const struct {
    const char *name;
    napi_callback fn;
  } functions[] = {
      {"inotifyOpen", inotify_open},
      {"inotifyAdd", inotify_add},
      {"inotifyRemove", inotify_remove},
      {"inotifyClose", inotify_close},
  };
  for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++) {
    napi_value fn;
    napi_create_function(env, functions[i].name, NAPI_AUTO_LENGTH, functions[i].fn, NULL, &fn);
    napi_set_named_property(env, exports, functions[i].name, fn);
  }
}
