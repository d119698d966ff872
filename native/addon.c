/*
 * pipe_io_native: mkfifo(2) on the threadpool (mkfifo.c), inotify with a chosen mask (inotify.c),
 * and flock(2) and descriptors Node does not track (fd.c).
 */
#include "addon.h"

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  mkfifo_register(env, exports);
  inotify_register(env, exports);
  fd_register(env, exports);
  return exports;
}
