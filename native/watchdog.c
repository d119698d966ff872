/*
 * pipe_io_watchdog: kills a host's plugins when the host dies, however it dies.
 *
 * The host starts one watchdog (in its own session, so a Ctrl-C or a hangup meant for the
 * host does not reach it) with the watchdog's stdin connected to a socket only the host
 * holds. The host tells it, one record at a time, which process groups and folders are its
 * plugins'. When the host dies -- SIGKILL, the OOM killer, a crash in native code, or a
 * normal exit -- the kernel closes the host's end and read() here returns 0. That is the
 * one signal that comes for every kind of death, which is why this is built on it rather
 * than on PR_SET_PDEATHSIG: that one kills only the process it is set in (not its group),
 * removes no folder, cannot be set through Node's spawn(), and fires when the *thread* that
 * forked the child exits, which in Node may be a worker thread.
 *
 * Records, each ended by a NUL byte (a path may hold any other byte):
 *   S <key> <pgid> <grace-ms> <dir>   plugin <key> now runs as group <pgid> (0: none), in <dir>
 *   D <key>                           plugin <key> is stopped and cleaned up: forget it
 *   Q                                 the host is exiting in order: be gentle (see below)
 *
 * At end of stream, for every plugin still known: SIGTERM to its group; once no live
 * process is left in the group, or after the grace period, SIGKILL to the group; then the
 * folder is removed, if it is still a directory owned by this user (never anything else).
 * The grace period is the plugin's own after Q (the host exited through process.exit or an
 * uncaught exception and asked for an orderly stop) and HARD_GRACE_MS otherwise (the host
 * was killed: plugins must be gone within a second, and a plugin that ignores SIGTERM or
 * never reads its pipe gets SIGKILL).
 *
 * It holds nothing else: no pipe of a plugin, no working folder (it moves to /).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define HARD_GRACE_MS 200
#define POLL_MS 10

typedef struct {
  long key;
  pid_t pgid;
  long grace_ms;
  char *dir;
  int done;
} Entry;

static Entry *entries;
static size_t count, capacity;

static Entry *find(long key) {
  for (size_t i = 0; i < count; i++)
    if (entries[i].key == key) return &entries[i];
  return NULL;
}

static void forget(long key) {
  Entry *e = find(key);
  if (e == NULL) return;
  free(e->dir);
  *e = entries[--count];
}

static void set(long key, pid_t pgid, long grace_ms, const char *dir) {
  Entry *e = find(key);
  if (e == NULL) {
    if (count == capacity) {
      size_t next = capacity ? capacity * 2 : 16;
      Entry *grown = realloc(entries, next * sizeof(Entry));
      if (grown == NULL) return;
      entries = grown;
      capacity = next;
    }
    e = &entries[count++];
    e->dir = NULL;
  }
  char *copy = strdup(dir);
  if (copy == NULL) return;
  free(e->dir);
  e->key = key;
  e->pgid = pgid;
  e->grace_ms = grace_ms;
  e->dir = copy;
  e->done = 0;
}

static void handle_record(char *record, int *gentle) {
  char *end;
  if (record[0] == 'Q' && record[1] == '\0') {
    *gentle = 1;
  } else if (record[0] == 'D' && record[1] == ' ') {
    forget(strtol(record + 2, &end, 10));
  } else if (record[0] == 'S' && record[1] == ' ') {
    long key = strtol(record + 2, &end, 10);
    long pgid = strtol(end, &end, 10);
    long grace = strtol(end, &end, 10);
    if (*end == ' ' && end[1] == '/') set(key, (pid_t)pgid, grace, end + 1);
  }
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Whether group pgid has a member that is not a zombie. kill(-pgid, 0) alone cannot tell:
 * the host that would have reaped them is gone, and zombies still count as members. */
static int group_alive(pid_t pgid) {
  if (kill(-pgid, 0) != 0 && errno == ESRCH) return 0;
  DIR *proc = opendir("/proc");
  if (proc == NULL) return 1;
  int alive = 0;
  struct dirent *d;
  char path[288], stat[512];
  while (!alive && (d = readdir(proc)) != NULL) {
    if (d->d_name[0] < '0' || d->d_name[0] > '9') continue;
    snprintf(path, sizeof path, "/proc/%s/stat", d->d_name);
    FILE *f = fopen(path, "re");
    if (f == NULL) continue;
    size_t n = fread(stat, 1, sizeof stat - 1, f);
    fclose(f);
    stat[n] = '\0';
    /* The command name may hold spaces and ')': the fixed fields follow its last ')'. */
    char *close = strrchr(stat, ')');
    char state;
    int ppid, pgrp;
    if (close != NULL && sscanf(close + 1, " %c %d %d", &state, &ppid, &pgrp) == 3 && pgrp == pgid && state != 'Z' &&
        state != 'X')
      alive = 1;
  }
  closedir(proc);
  return alive;
}

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  remove(path);
  return 0;
}

/* Removes dir and what is in it, only if dir is a real directory owned by us: a symlink or
 * anything of another user put in its place is left alone. FTW_PHYS: never follow a link. */
static void remove_dir(const char *dir) {
  struct stat st;
  if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid()) return;
  nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static void clean_up(int gentle) {
  long start = now_ms();
  for (size_t i = 0; i < count; i++)
    if (entries[i].pgid > 0) kill(-entries[i].pgid, SIGTERM);
  for (;;) {
    int waiting = 0;
    long elapsed = now_ms() - start;
    for (size_t i = 0; i < count; i++) {
      Entry *e = &entries[i];
      if (e->done) continue;
      long grace = gentle ? e->grace_ms : HARD_GRACE_MS;
      if (e->pgid <= 0 || !group_alive(e->pgid)) {
        e->done = 1;
      } else if (elapsed >= grace) {
        kill(-e->pgid, SIGKILL);
        e->done = 1;
      } else {
        waiting = 1;
      }
      if (e->done) remove_dir(e->dir);
    }
    if (!waiting) break;
    struct timespec pause = {0, POLL_MS * 1000000L};
    nanosleep(&pause, NULL);
  }
}

int main(void) {
  /* Signals for the host's session never reach us (we lead our own); ignore them anyway, so
   * that only the end of the host's socket decides. A SIGTERM still ends us: whoever sends
   * it means it. */
  signal(SIGINT, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  if (chdir("/") != 0) { /* not fatal */ }
  static char buffer[65536];
  size_t used = 0;
  int gentle = 0;
  for (;;) {
    ssize_t n = read(0, buffer + used, sizeof buffer - used);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break; /* end of stream or an error: either way the host is gone */
    used += (size_t)n;
    size_t begin = 0;
    for (size_t i = 0; i < used; i++) {
      if (buffer[i] != '\0') continue;
      handle_record(buffer + begin, &gentle);
      begin = i + 1;
    }
    memmove(buffer, buffer + begin, used - begin);
    used -= begin;
    if (used == sizeof buffer) used = 0; /* a record longer than any path: drop it */
  }
  clean_up(gentle);
  return 0;
}
