{
  "targets": [
    {
      "target_name": "pipe_io_native",
      "sources": ["native/addon.c", "native/mkfifo.c", "native/inotify.c", "native/fd.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra", "-Werror"]
    },
    {
      "target_name": "pipe_io_watchdog",
      "type": "executable",
      "sources": ["native/watchdog.c"],
      "cflags": ["-Wall", "-Wextra", "-Werror", "-O2"]
    }
  ]
}
