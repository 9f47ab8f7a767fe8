/*
 * Native relay of a known number of bytes, on a thread per transfer: from one
 * socket to another with splice(2) through a pipe, so a blob passing through
 * the registry facade never enters user space; or from a file to a socket
 * through one buffer (send_file below says why not sendfile(2)), for hits of
 * the disk cache. (One sender thread shared by all cache hits, as an nginx
 * worker serves its sockets, was measured and removed: 16 parallel hits ran
 * at 0.97–1.01× the upstream's rate against 1.15–1.23× with a thread each,
 * which lets the kernel spread the sends, and loopback's receive work done in
 * the sender's context, over every core.) Node.js keeps ownership of
 * both sockets: the relay works on duplicates (a socket Node closes meanwhile
 * stays valid here and its number cannot be reused under the relay), and
 * Node must neither read the source nor write the destination until `done`
 * is called.
 *
 *   start(fromFd, toFd, length, stallMs, done(error | null, moved)) -> abort()
 *   sendFile(fileFd, toFd, offset, length, done(error | null, moved)[, background]) -> abort()
 *   idleThread() -> true | "errno N: message"
 *
 * `error` is "ESTALLED" when the source sends nothing for stallMs while the
 * relay waits for it (a slow reader is not a stall), "ECLOSED" when the
 * source ends before `length` bytes (a file: is shorter than offset + length), "EABORTED" after abort(), or
 * "errno N: message" for a failed call. `moved` counts the bytes written to
 * `toFd`. With `background` true the file thread runs at nice 10: a
 * client catching up with a cache fill in progress then yields the CPU to
 * the fill, which every client of that blob waits for.
 *
 * idleThread() puts the calling thread (a bcrypt worker of the facade's hash
 * pool) in SCHED_IDLE: it runs only on a core nothing else wants, and any
 * waking thread preempts it at once. Nice 10 was not enough: under a login
 * flood the worker still took 80 % of a core and the event loop's p99 went
 * 2.2–3.4× its quiet figure (1.4–1.8× in SCHED_IDLE; docs/benchmarks.md).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PIPE_BYTES (1 << 20)
#define FILE_CHUNK (512 * 1024)
#define FILE_BUFFERS (4 << 20)
#define FILE_CHUNK_MIN (64 * 1024)
#define STACK_BYTES (256 * 1024)

typedef struct relay {
  int from, to, wake;
  int64_t length, moved;
  int64_t offset; /* file mode: where in the file to start; -1 in splice mode */
  int stall_ms;
  int background; /* file mode: run at a lower priority */
  const char *error;
  int saved_errno;
  int refs; /* the thread's completion and the JS abort function; freed at zero (main thread only) */
  int finished;
  napi_threadsafe_function done;
} relay_t;

static void release(relay_t *r) {
  if (--r->refs == 0) free(r);
}

/* Waits until the source is readable (want_in), the destination writable (want_out) or abort. */
static int wait_for(relay_t *r, int want_in, int want_out) {
  struct pollfd fds[3] = {{r->wake, POLLIN, 0}};
  int n = 1;
  if (want_in) fds[n++] = (struct pollfd){r->from, POLLIN, 0};
  if (want_out) fds[n++] = (struct pollfd){r->to, POLLOUT, 0};
  int got;
  do got = poll(fds, n, want_out ? -1 : r->stall_ms);
  while (got < 0 && errno == EINTR);
  if (got < 0) return r->saved_errno = errno, -1;
  if (got == 0) return r->error = "ESTALLED", -1;
  if (fds[0].revents) return r->error = "EABORTED", -1;
  return 0;
}

/*
 * File to socket: pread(2) into a FILE_CHUNK buffer, write(2) to the socket,
 * waiting only for the socket. A copy, on purpose: measured on loopback
 * (docs/benchmarks.md#blob-cache), sendfile(2) saves this thread its copy
 * but leaves the receiver copying out of cold page-cache pages, and the
 * whole exchange costs more (0.56–0.62 against 0.52–0.56 CPU-seconds per
 * GiB for 16 streams); 512 KiB beat 128 KiB, 256 KiB and 1 MiB on one
 * stream, 256 KiB did as well on 16. The buffers of all sends in flight share
 * FILE_BUFFERS (4 MiB): each gets FILE_CHUNK while 8 or fewer run, less
 * beyond (256 KiB for 16, 128 KiB for 32; sized when the send starts), which
 * keeps 32 parallel hits within the facade's memory bound. They are mapped
 * and unmapped here, so none stays in a malloc arena after its send.
 */
static int files_sending;

static void send_file(relay_t *r) {
  size_t chunk = FILE_BUFFERS / (size_t)__atomic_add_fetch(&files_sending, 1, __ATOMIC_RELAXED);
  chunk = chunk > FILE_CHUNK ? FILE_CHUNK : chunk < FILE_CHUNK_MIN ? FILE_CHUNK_MIN : chunk & ~(size_t)4095;
  char *buf = mmap(NULL, chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (buf == MAP_FAILED) {
    r->saved_errno = errno;
    __atomic_sub_fetch(&files_sending, 1, __ATOMIC_RELAXED);
    return;
  }
  off_t offset = (off_t)r->offset;
  int64_t left = r->length;
  while (left > 0) {
    ssize_t got = pread(r->from, buf, left < (int64_t)chunk ? (size_t)left : chunk, offset);
    if (got == 0) { r->error = "ECLOSED"; break; }
    if (got < 0) {
      if (errno == EINTR) continue;
      r->saved_errno = errno;
      break;
    }
    for (ssize_t done = 0; done < got;) {
      ssize_t n = write(r->to, buf + done, (size_t)(got - done));
      if (n > 0) done += n, r->moved += n;
      else if (n < 0 && (errno == EAGAIN || errno == EINTR)) { if (wait_for(r, 0, 1) < 0) goto out; }
      else { r->saved_errno = n < 0 ? errno : EPIPE; goto out; }
    }
    offset += got, left -= got;
  }
out:
  munmap(buf, chunk);
  __atomic_sub_fetch(&files_sending, 1, __ATOMIC_RELAXED);
}

static void *run(void *arg) {
  relay_t *r = arg;
  if (r->offset >= 0) {
    if (r->background) setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
    send_file(r);
    goto out;
  }
  int p[2];
  if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0) {
    r->saved_errno = errno;
    goto out;
  }
  fcntl(p[1], F_SETPIPE_SZ, PIPE_BYTES);
  int cap = fcntl(p[1], F_GETPIPE_SZ);
  if (cap <= 0) cap = 65536;
  int64_t left = r->length, buffered = 0;
  while (left > 0 || buffered > 0) {
    int progressed = 0;
    if (left > 0 && buffered < cap) {
      int64_t want = left < cap - buffered ? left : cap - buffered;
      ssize_t n = splice(r->from, NULL, p[1], NULL, (size_t)want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) left -= n, buffered += n, progressed = 1;
      else if (n == 0) { r->error = "ECLOSED"; break; }
      else if (errno != EAGAIN && errno != EINTR) { r->saved_errno = errno; break; }
    }
    if (buffered > 0) {
      ssize_t n = splice(p[0], NULL, r->to, NULL, (size_t)buffered, SPLICE_F_MOVE | SPLICE_F_NONBLOCK | (left > 0 ? SPLICE_F_MORE : 0));
      if (n > 0) buffered -= n, r->moved += n, progressed = 1;
      else if (n < 0 && errno != EAGAIN && errno != EINTR) { r->saved_errno = errno; break; }
    }
    if (!progressed && wait_for(r, left > 0 && buffered < cap, buffered > 0) < 0) break;
  }
  close(p[0]);
  close(p[1]);
out:
  close(r->from);
  close(r->to);
  napi_call_threadsafe_function(r->done, r, napi_tsfn_blocking);
  napi_release_threadsafe_function(r->done, napi_tsfn_release);
  return NULL;
}

/* On the main thread, once the relay has ended: calls done(error, moved). */
static void finish(napi_env env, napi_value callback, void *context, void *data) {
  (void)context;
  relay_t *r = data;
  r->finished = 1;
  close(r->wake);
  if (env && callback) {
    napi_value argv[2], global;
    if (r->error) {
      napi_create_string_utf8(env, r->error, NAPI_AUTO_LENGTH, &argv[0]);
    } else if (r->saved_errno) {
      char message[96];
      snprintf(message, sizeof message, "errno %d: %s", r->saved_errno, strerror(r->saved_errno));
      napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &argv[0]);
    } else {
      napi_get_null(env, &argv[0]);
    }
    napi_create_int64(env, r->moved, &argv[1]);
    napi_get_global(env, &global);
    napi_call_function(env, global, callback, 2, argv, NULL);
  }
  release(r);
}

static napi_value abort_relay(napi_env env, napi_callback_info info) {
  relay_t *r;
  napi_get_cb_info(env, info, NULL, NULL, NULL, (void **)&r);
  if (!r->finished) {
    uint64_t one = 1;
    ssize_t ignored = write(r->wake, &one, sizeof one);
    (void)ignored;
  }
  return NULL;
}

static void drop_abort(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  release(data);
}

#define CHECK(call, message)                       \
  do {                                             \
    if ((call) != napi_ok) {                       \
      napi_throw_error(env, NULL, message);        \
      return NULL;                                 \
    }                                              \
  } while (0)

/* Starts the relay thread; `offset` < 0 selects splice mode (socket to socket). */
static napi_value begin(napi_env env, napi_value done, int32_t from, int32_t to, int64_t offset, int64_t length, int32_t stall, int background) {
  relay_t *r = calloc(1, sizeof *r);
  if (!r) {
    napi_throw_error(env, NULL, "splice: out of memory");
    return NULL;
  }
  r->length = length;
  r->offset = offset;
  r->background = background;
  r->stall_ms = stall > 0 ? stall : -1;
  r->from = fcntl(from, F_DUPFD_CLOEXEC, 0);
  r->to = fcntl(to, F_DUPFD_CLOEXEC, 0);
  r->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  napi_value name;
  napi_create_string_utf8(env, "imagegate-splice", NAPI_AUTO_LENGTH, &name);
  int failed = r->from < 0 || r->to < 0 || r->wake < 0 ? errno : 0;
  if (!failed && napi_create_threadsafe_function(env, done, NULL, name, 0, 1, NULL, NULL, NULL, finish, &r->done) != napi_ok) failed = EINVAL;
  if (failed) {
    if (r->from >= 0) close(r->from);
    if (r->to >= 0) close(r->to);
    if (r->wake >= 0) close(r->wake);
    free(r);
    napi_throw_error(env, NULL, strerror(failed));
    return NULL;
  }
  r->refs = 2;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, STACK_BYTES);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t thread;
  int err = pthread_create(&thread, &attr, run, r);
  pthread_attr_destroy(&attr);
  if (err) {
    close(r->from);
    close(r->to);
    close(r->wake);
    napi_release_threadsafe_function(r->done, napi_tsfn_abort);
    free(r);
    napi_throw_error(env, NULL, strerror(err));
    return NULL;
  }
  napi_value abort_fn;
  napi_create_function(env, "abort", NAPI_AUTO_LENGTH, abort_relay, r, &abort_fn);
  napi_add_finalizer(env, abort_fn, r, drop_abort, NULL, NULL);
  return abort_fn;
}

static napi_value start(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL), "splice: bad call");
  if (argc != 5) {
    napi_throw_type_error(env, NULL, "splice: start(fromFd, toFd, length, stallMs, done)");
    return NULL;
  }
  int32_t from, to, stall;
  int64_t length;
  CHECK(napi_get_value_int32(env, argv[0], &from), "splice: fromFd must be a number");
  CHECK(napi_get_value_int32(env, argv[1], &to), "splice: toFd must be a number");
  CHECK(napi_get_value_int64(env, argv[2], &length), "splice: length must be a number");
  CHECK(napi_get_value_int32(env, argv[3], &stall), "splice: stallMs must be a number");
  return begin(env, argv[4], from, to, -1, length, stall, 0);
}

static napi_value send_file_js(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL), "splice: bad call");
  if (argc != 5 && argc != 6) {
    napi_throw_type_error(env, NULL, "splice: sendFile(fileFd, toFd, offset, length, done[, background])");
    return NULL;
  }
  int32_t from, to;
  int64_t offset, length;
  CHECK(napi_get_value_int32(env, argv[0], &from), "splice: fileFd must be a number");
  CHECK(napi_get_value_int32(env, argv[1], &to), "splice: toFd must be a number");
  CHECK(napi_get_value_int64(env, argv[2], &offset), "splice: offset must be a number");
  CHECK(napi_get_value_int64(env, argv[3], &length), "splice: length must be a number");
  if (offset < 0 || length < 0) {
    napi_throw_range_error(env, NULL, "splice: offset and length must not be negative");
    return NULL;
  }
  bool background = false;
  if (argc == 6) CHECK(napi_get_value_bool(env, argv[5], &background), "splice: background must be a boolean");
  return begin(env, argv[4], from, to, offset, length, 0, background);
}

static napi_value idle_thread(napi_env env, napi_callback_info info) {
  (void)info;
  struct sched_param param = {0};
  napi_value result;
  if (sched_setscheduler(0, SCHED_IDLE, &param) == 0) {
    napi_get_boolean(env, true, &result);
  } else {
    char message[96];
    snprintf(message, sizeof message, "errno %d: %s", errno, strerror(errno));
    napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &result);
  }
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "start", NAPI_AUTO_LENGTH, start, NULL, &fn);
  napi_set_named_property(env, exports, "start", fn);
  napi_create_function(env, "sendFile", NAPI_AUTO_LENGTH, send_file_js, NULL, &fn);
  napi_set_named_property(env, exports, "sendFile", fn);
  napi_create_function(env, "idleThread", NAPI_AUTO_LENGTH, idle_thread, NULL, &fn);
  napi_set_named_property(env, exports, "idleThread", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
