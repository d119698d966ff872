/*
 * stress_client: the C client of the stress suite (compiled at run time with cc).
 *
 *   stress_client write    path=P src=S [count=N] [start=K] [reopen=K] [min=L] [max=L]
 *                          [progress=FILE slot=I] [burst=B pause_us=U] [retry=1] [sleep_us=U]
 *       Writes messages M<src>.<seq>.<payload>.<fnv>\n, each with exactly one write(),
 *       opening the FIFO with a blocking open(O_WRONLY). count=0: until SIGTERM.
 *       reopen=K: close and reopen after every K lines (reopen=1: one line per open).
 *       retry=1: on ENOENT (pipe deleted / server stopped) wait and reopen; on EPIPE
 *       reopen and write the same line again. progress: after each successful write()
 *       the number of lines written is stored in an mmap'd file slot, so a client killed
 *       with SIGKILL still tells how many lines the kernel accepted.
 *   stress_client half     path=P text=T      writes T (no newline) with one write(), then waits to be killed
 *   stress_client read     path=P [lines=N] [chunk=C] [sleep_us=U] [partial=keep|drop] [retry=1] [onebyte=1]
 *       Reads the out pipe with a blocking open(O_RDONLY) and read(); prints every complete
 *       line on stdout. At end of stream it reopens the path (retry=1 also waits out ENOENT).
 *       partial=keep: an unfinished line at end of stream is kept and continued by the
 *       next open; partial=drop: it is dropped and reported as a line "!partial <bytes>".
 *       Exits after N lines, or on SIGTERM, or on ENOENT without retry=1.
 *   stress_client never    path=P              opens the out pipe and never reads
 *   stress_client openloop path=P mode=r|w      open()/close() in a loop until ENOENT
 *   stress_client fill     path=P              writes 1000-byte lines until write() fails (EPIPE)
 *   stress_client blockread path=P             open(), then read() until it returns 0 or fails
 *
 * The last four print "released <what> <errno name>" when their blocking call returns for good.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop_flag = 0;
static void on_term(int sig) { (void)sig; stop_flag = 1; }

static int argc_g;
static char **argv_g;

static const char *opt(const char *key, const char *fallback) {
  size_t k = strlen(key);
  for (int i = 2; i < argc_g; i++)
    if (strncmp(argv_g[i], key, k) == 0 && argv_g[i][k] == '=') return argv_g[i] + k + 1;
  return fallback;
}
static long long opt_ll(const char *key, long long fallback) {
  const char *v = opt(key, NULL);
  return v ? atoll(v) : fallback;
}

static uint32_t fnv1a(const char *s, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) { h ^= (unsigned char)s[i]; h *= 16777619u; }
  return h;
}

/* Builds the message for (src, seq) into buf; returns its length including the newline. */
static size_t make_message(char *buf, const char *src, unsigned long long seq, long min, long max) {
  int n = sprintf(buf, "M%s.%llu.", src, seq);
  uint64_t x = (seq + 1) * 0x9E3779B97F4A7C15ull ^ fnv1a(src, strlen(src));
  long len = min + (max > min ? (long)(x % (uint64_t)(max - min + 1)) : 0);
  for (long i = 0; i < len; i++) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    buf[n++] = "abcdefghijklmnopqrstuvwxyz0123456789"[x % 36];
  }
  uint32_t h = fnv1a(buf, (size_t)n);
  n += sprintf(buf + n, ".%08x\n", h);
  return (size_t)n;
}

static void install_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_term; /* no SA_RESTART: a blocked open/read/write returns EINTR */
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
}

static _Noreturn void released(const char *what, int err) {
  printf("released %s %s\n", what, err ? strerrorname_np(err) : "EOF");
  fflush(stdout);
  exit(0);
}

static int cmd_write(void) {
  const char *path = opt("path", NULL), *src = opt("src", "w");
  long long count = opt_ll("count", 0), seq = opt_ll("start", 0), reopen = opt_ll("reopen", 0);
  long min = (long)opt_ll("min", 16), max = (long)opt_ll("max", 48);
  long long burst = opt_ll("burst", 0), pause_us = opt_ll("pause_us", 0), sleep_us = opt_ll("sleep_us", 0);
  int retry = (int)opt_ll("retry", 0);
  volatile uint64_t *slots = NULL;
  long long slot = opt_ll("slot", 0);
  const char *progress = opt("progress", NULL);
  if (progress) {
    int pfd = open(progress, O_RDWR);
    if (pfd < 0) { perror("progress"); return 10; }
    slots = mmap(NULL, (size_t)(slot + 1) * 8, PROT_READ | PROT_WRITE, MAP_SHARED, pfd, 0);
    if (slots == MAP_FAILED) { perror("mmap"); return 10; }
    close(pfd);
  }
  if (max + 64 > 4096) max = 4096 - 64; /* one write() of at most PIPE_BUF bytes: atomic */
  char buf[4200];
  int fd = -1;
  long long written = 0, in_this_open = 0, reopens = 0, epipes = 0, enoents = 0;
  size_t len = make_message(buf, src, (unsigned long long)seq, min, max);
  while (!stop_flag && (count == 0 || written < count)) {
    if (fd < 0) {
      fd = open(path, O_WRONLY);
      if (fd < 0) {
        if (errno == EINTR) continue;
        if (errno == ENOENT && retry) { enoents++; usleep(1000); continue; }
        fprintf(stderr, "open %s: %s\n", path, strerror(errno));
        printf("done %lld error open %s\n", written, strerrorname_np(errno));
        return 2;
      }
      in_this_open = 0;
      reopens++;
    }
    ssize_t n = write(fd, buf, len);
    if (n == (ssize_t)len) {
      written++;
      seq++;
      if (slots) __atomic_store_n(&slots[slot], (uint64_t)written, __ATOMIC_RELEASE);
      len = make_message(buf, src, (unsigned long long)seq, min, max);
      in_this_open++;
      if (reopen > 0 && in_this_open >= reopen) { close(fd); fd = -1; }
      if (burst > 0 && written % burst == 0 && pause_us > 0) usleep((useconds_t)pause_us);
      if (sleep_us > 0) usleep((useconds_t)sleep_us);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EPIPE && retry) { epipes++; close(fd); fd = -1; continue; }
    if (n >= 0) {
      fprintf(stderr, "partial write %zd of %zu\n", n, len);
      printf("done %lld error partial\n", written);
      return 4;
    }
    fprintf(stderr, "write %s: %s\n", path, strerror(errno));
    printf("done %lld error write %s\n", written, strerrorname_np(errno));
    return 3;
  }
  if (fd >= 0) close(fd);
  printf("done %lld reopens %lld epipe %lld enoent %lld\n", written, reopens, epipes, enoents);
  return 0;
}

static _Noreturn int cmd_half(void) {
  const char *path = opt("path", NULL), *text = opt("text", "half");
  int fd = open(path, O_WRONLY);
  if (fd < 0) { perror("open"); exit(2); }
  if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) { perror("write"); exit(3); }
  printf("written\n");
  fflush(stdout);
  for (;;) pause();
}

static int cmd_read(void) {
  const char *path = opt("path", NULL);
  long long lines = opt_ll("lines", 0), chunk = opt_ll("chunk", 65536), sleep_us = opt_ll("sleep_us", 0);
  int keep = strcmp(opt("partial", "keep"), "keep") == 0;
  int retry = (int)opt_ll("retry", 0), onebyte = (int)opt_ll("onebyte", 0);
  if (chunk < 1) chunk = 1;
  if (chunk > 1 << 20) chunk = 1 << 20;
  char *buf = malloc((size_t)chunk);
  size_t cap = 1 << 16, have = 0; /* the unfinished line */
  char *line = malloc(cap);
  static char out[1 << 16];
  setvbuf(stdout, out, _IOFBF, sizeof out);
  long long seen = 0;
  int fd = -1;
  while (!stop_flag && (lines == 0 || seen < lines)) {
    if (fd < 0) {
      fd = open(path, O_RDONLY);
      if (fd < 0) {
        if (errno == EINTR) continue;
        if (errno == ENOENT && retry) { usleep(1000); continue; }
        break;
      }
    }
    ssize_t n = read(fd, buf, onebyte ? 1 : (size_t)chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (n == 0) {
      close(fd);
      fd = -1;
      if (have > 0 && !keep) {
        printf("!partial %zu\n", have);
        have = 0;
      }
      fflush(stdout);
      continue;
    }
    for (ssize_t i = 0; i < n; i++) {
      char c = buf[i];
      if (have + 1 >= cap) { cap *= 2; line = realloc(line, cap); }
      line[have++] = c;
      if (c == '\n') {
        fwrite(line, 1, have, stdout);
        have = 0;
        seen++;
        if (onebyte && fd >= 0) { close(fd); fd = -1; }
        if (lines && seen >= lines) break;
      }
    }
    fflush(stdout);
    if (sleep_us > 0) usleep((useconds_t)sleep_us);
  }
  fflush(stdout);
  return 0;
}

static int cmd_never(void) {
  int fd = open(opt("path", NULL), O_RDONLY);
  if (fd < 0) { perror("open"); return 2; }
  printf("open\n");
  fflush(stdout);
  while (!stop_flag) pause();
  return 0;
}

static _Noreturn int cmd_openloop(void) {
  const char *path = opt("path", NULL);
  int flags = strcmp(opt("mode", "w"), "r") == 0 ? O_RDONLY : O_WRONLY;
  printf("ready\n");
  fflush(stdout);
  for (;;) {
    int fd = open(path, flags);
    if (fd < 0) {
      if (errno == EINTR) continue;
      released(flags == O_RDONLY ? "open(out)" : "open(in)", errno);
    }
    close(fd);
  }
}

static _Noreturn int cmd_fill(void) {
  int fd = open(opt("path", NULL), O_WRONLY);
  if (fd < 0) released("open(in)", errno);
  char line[1000];
  memset(line, 'f', sizeof line);
  line[sizeof line - 1] = '\n';
  printf("ready\n");
  fflush(stdout);
  for (;;) {
    ssize_t n = write(fd, line, sizeof line);
    if (n < 0 && errno != EINTR) released("write(in)", errno);
  }
}

static _Noreturn int cmd_blockread(void) {
  int fd = open(opt("path", NULL), O_RDONLY);
  if (fd < 0) released("open(out)", errno);
  printf("ready\n");
  fflush(stdout);
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n == 0) released("read(out)", 0);
    if (n < 0 && errno != EINTR) released("read(out)", errno);
  }
}

int main(int argc, char **argv) {
  argc_g = argc;
  argv_g = argv;
  if (argc < 2) { fprintf(stderr, "usage: stress_client write|half|read|never|openloop|fill|blockread key=value...\n"); return 64; }
  install_signals();
  const char *cmd = argv[1];
  if (!strcmp(cmd, "write")) return cmd_write();
  if (!strcmp(cmd, "half")) return cmd_half();
  if (!strcmp(cmd, "read")) return cmd_read();
  if (!strcmp(cmd, "never")) return cmd_never();
  if (!strcmp(cmd, "openloop")) return cmd_openloop();
  if (!strcmp(cmd, "fill")) return cmd_fill();
  if (!strcmp(cmd, "blockread")) return cmd_blockread();
  fprintf(stderr, "unknown command %s\n", cmd);
  return 64;
}
