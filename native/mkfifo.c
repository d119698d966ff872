/*
 * mkfifo(3) for pipe-io-server.
 *
 * Node has no mkfifo. Spawning the mkfifo utility costs a fork and exec per pipe, too
 * slow for a process that starts hundreds of servers. mkfifo(2) itself never waits on
 * a FIFO's other end, but its cost depends on the file system: microseconds on tmpfs,
 * about a millisecond of kernel time on ext4 (measured by the bench). So it runs as
 * async work on libuv's threadpool, where a millisecond holds one thread briefly and
 * never the event loop.
 *
 * The mode is applied exactly: mkfifo honours the umask, so a chmod (that never follows a link) comes after.
 * Results are 0 or the errno of the step that failed; JavaScript builds the error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <node_api.h>

#include "addon.h"

static int make_fifo(const char *path, mode_t mode) {
  struct stat st;
  if (mkfifo(path, mode) != 0) return errno;
  /* Never follows a symbolic link: in a folder others may write, one could replace the new FIFO
   * by a link to a file of theirs choosing, and a chmod as root would then open that file up. */
  if (fchmodat(AT_FDCWD, path, mode, AT_SYMLINK_NOFOLLOW) != 0) {
    int err = errno;
    /* Only what we made: a FIFO of ours, not what someone put in its place. */
    if (lstat(path, &st) == 0 && S_ISFIFO(st.st_mode) && st.st_uid == geteuid()) unlink(path);
    return err;
  }
  return 0;
}

/* Reads (path: string, mode: number, callback) into a malloc'd path; throws and returns NULL on misuse. */
static char *read_args(napi_env env, napi_value *argv, size_t argc, uint32_t *mode) {
  size_t length = 0;
  char *path;
  if (argc != 3 || napi_get_value_string_utf8(env, argv[0], NULL, 0, &length) != napi_ok ||
      napi_get_value_uint32(env, argv[1], mode) != napi_ok) {
    napi_throw_type_error(env, NULL, "mkfifo(path: string, mode: number, callback)");
    return NULL;
  }
  path = malloc(length + 1);
  if (path == NULL) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  napi_get_value_string_utf8(env, argv[0], path, length + 1, &length);
  return path;
}

typedef struct {
  napi_async_work work;
  napi_ref callback;
  char *path;
  mode_t mode;
  int err;
} Job;

static void execute(napi_env env, void *data) {
  Job *job = data;
  (void)env;
  job->err = make_fifo(job->path, job->mode);
}

static void complete(napi_env env, napi_status status, void *data) {
  Job *job = data;
  napi_value callback, global, arg;
  napi_create_int32(env, status == napi_ok ? job->err : ECANCELED, &arg);
  napi_get_reference_value(env, job->callback, &callback);
  napi_get_global(env, &global);
  napi_call_function(env, global, callback, 1, &arg, NULL);
  napi_delete_reference(env, job->callback);
  napi_delete_async_work(env, job->work);
  free(job->path);
  free(job);
}

static napi_value mkfifo_async(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], name;
  uint32_t mode = 0;
  Job *job;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char *path = read_args(env, argv, argc, &mode);
  if (path == NULL) return NULL;
  job = calloc(1, sizeof(Job));
  if (job == NULL) {
    free(path);
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  job->path = path;
  job->mode = (mode_t)mode;
  napi_create_reference(env, argv[2], 1, &job->callback);
  napi_create_string_utf8(env, "pipe-io-server:mkfifo", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, execute, complete, job, &job->work);
  napi_queue_async_work(env, job->work);
  return NULL;
}

void mkfifo_register(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "mkfifo", NAPI_AUTO_LENGTH, mkfifo_async, NULL, &fn);
  napi_set_named_property(env, exports, "mkfifo", fn);
}
