{
  "targets": [
    {
      "target_name": "pipe_io_native",
      "sources": ["native/mkfifo.c"],
      "cflags": ["-Wall", "-Wextra", "-Werror"]
    }
  ]
}
