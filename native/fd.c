/*
 * Descriptor calls Node lacks: a lock, and a descriptor Node does not track.
 *
 * flock(2) holds a pipe's ownership lock (see lib/fifo.ts). It was fs-ext's, whose addon is not
 * context-aware: loading it in a worker thread after the main thread had crashed the process
 * (V8 "Check failed: node->IsInUse()" in its init).
 *
 * dupFd() makes a descriptor for a net.Socket to own.
 * In a worker thread Node tracks every descriptor fs.open() returns until fs.close() closes it
 * (trackUnmanagedFds, on by default) and closes what is still tracked when the worker exits.
 * A descriptor handed to net.Socket is closed by libuv, never by fs.close(), so it stays
 * tracked: Node warns "opened in unmanaged mode twice" when the number comes back, and at the
 * worker's exit closes that number again, whatever it then belongs to (another thread's socket).
 * A duplicate made here was never tracked; the original is closed with fs.close().
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <node_api.h>

#include "addon.h"

/* The one argument, a descriptor: >= 0, or -1 after throwing a TypeError naming `usage`. */
static int32_t fd_argument(napi_env env, napi_callback_info info, const char *usage) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, usage);
    return -1;
  }
  return fd;
}

/* A result for JavaScript: `value`, or -errno when the call failed (`value` < 0). */
static napi_value result_or_errno(napi_env env, int value) {
  napi_value result;
  napi_create_int32(env, value < 0 ? -errno : value, &result);
  return result;
}

/* dupFd(fd: number): a new close-on-exec descriptor (the lowest free number), or -errno */
static napi_value dup_fd(napi_env env, napi_callback_info info) {
  int32_t fd = fd_argument(env, info, "dupFd(fd: number)");
  if (fd < 0) return NULL;
  return result_or_errno(env, fcntl(fd, F_DUPFD_CLOEXEC, 0));
}

/* flockExclusive(fd: number): 0 once the exclusive lock is held, or -errno (-EWOULDBLOCK: another holds it); never waits */
static napi_value flock_exclusive(napi_env env, napi_callback_info info) {
  int status;
  int32_t fd = fd_argument(env, info, "flockExclusive(fd: number)");
  if (fd < 0) return NULL;
  do status = flock(fd, LOCK_EX | LOCK_NB);
  while (status != 0 && errno == EINTR);
  return result_or_errno(env, status);
}

void fd_register(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "dupFd", NAPI_AUTO_LENGTH, dup_fd, NULL, &fn);
  napi_set_named_property(env, exports, "dupFd", fn);
  napi_create_function(env, "flockExclusive", NAPI_AUTO_LENGTH, flock_exclusive, NULL, &fn);
  napi_set_named_property(env, exports, "flockExclusive", fn);
}
