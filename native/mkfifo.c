/*
 * mkfifo(3) for pipe-io-server.
 *
 * Node has no mkfifo. Spawning the mkfifo utility costs a fork and exec per
 * pipe (milliseconds each, and the spawn itself runs on the main thread), which
 * is too slow for a process that starts hundreds of servers. mkfifo(2) on a
 * local file system returns in microseconds, so it is called synchronously
 * here: it never waits on a FIFO's other end and needs no threadpool thread.
 *
 * The mode is applied exactly: mkfifo honours the umask, so chmod follows.
 * Returns 0 or the errno of the step that failed; JavaScript builds the error.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <node_api.h>

static napi_value make_fifo(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_value result;
  char *path = NULL;
  size_t length = 0;
  uint32_t mode = 0;
  int err = 0;

  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2 ||
      napi_get_value_string_utf8(env, argv[0], NULL, 0, &length) != napi_ok ||
      napi_get_value_uint32(env, argv[1], &mode) != napi_ok) {
    napi_throw_type_error(env, NULL, "mkfifo(path: string, mode: number)");
    return NULL;
  }
  path = malloc(length + 1);
  if (path == NULL) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  napi_get_value_string_utf8(env, argv[0], path, length + 1, &length);

  if (mkfifo(path, (mode_t)mode) != 0) {
    err = errno;
  } else if (chmod(path, (mode_t)mode) != 0) {
    err = errno;
    unlink(path);
  }
  free(path);
  napi_create_int32(env, err, &result);
  return result;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_value fn;
  napi_create_function(env, "mkfifo", NAPI_AUTO_LENGTH, make_fifo, NULL, &fn);
  napi_set_named_property(env, exports, "mkfifo", fn);
  return exports;
}
