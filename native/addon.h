/* The parts of pipe_io_native, each registering its functions on the module's exports. */
#ifndef PIPE_IO_ADDON_H
#define PIPE_IO_ADDON_H
#include <node_api.h>

/* mkfifo(path, mode, callback): native/mkfifo.c */
void mkfifo_register(napi_env env, napi_value exports);
/* inotifyOpen, inotifyAdd, inotifyRemove, inotifyClose: native/inotify.c */
void inotify_register(napi_env env, napi_value exports);
/* dupFd, flockExclusive: native/fd.c */
void fd_register(napi_env env, napi_value exports);

#endif
