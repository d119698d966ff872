{
  "targets": [
    {
      "target_name": "pipe_io_native",
      "sources": ["native/mkfifo.c"],
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
