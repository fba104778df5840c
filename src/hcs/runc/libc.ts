import koffi from 'koffi';

/**
 * The few libc calls the runc backend needs and Node does not offer: spawning
 * without forking the heap, watching one pid without reaping anyone else's,
 * receiving a pty master over a unix socket, and sizing a terminal. Loaded
 * lazily, once per thread (the reaper worker loads its own copy).
 *
 * Every call here is non-blocking except `epoll_wait`, which only the reaper
 * worker makes.
 */
export interface Libc {
  errno(): number;
  pipe2(flags: number): [number, number];
  close(fd: number): number;
  posixSpawn(argv: readonly string[], env: readonly string[], stdio: readonly [number, number, number]): number;
  pidfdOpen(pid: number): number;
  /** `waitid(P_PIDFD, fd, WEXITED | WNOHANG)`: null while the process still runs. */
  waitPidfd(fd: number): { code: number; status: number } | null;
  epollCreate(): number;
  epollAdd(epfd: number, fd: number, data: number): number;
  epollDel(epfd: number, fd: number): number;
  /** Blocks up to `timeoutMs`; fills `out` with the `data` of each ready fd. */
  epollWait(epfd: number, out: number[], max: number, timeoutMs: number): number;
  eventfd(): number;
  eventfdWrite(fd: number): number;
  eventfdRead(fd: number): number;
  setChildSubreaper(): number;
  unixListen(path: string): number;
  acceptNonblocking(fd: number): number;
  /** Receives one fd passed with SCM_RIGHTS, or -1 when none is queued. */
  receiveFd(fd: number): number;
  setWindowSize(fd: number, rows: number, cols: number): number;
  mount(source: string, target: string, fstype: string, flags: number, data: string | null): number;
  umount(target: string, flags: number): number;
}

export const O_CLOEXEC = 0o2000000;
export const O_NONBLOCK = 0o4000;
export const CLD_EXITED = 1;
export const MS_RDONLY = 1;
export const MS_REMOUNT = 32;
export const MS_BIND = 4096;
export const MS_REC = 16384;
export const MNT_DETACH = 2;

const SYS_PIDFD_OPEN = 434; // the same number on every architecture (a post-4.x syscall)
const P_PIDFD = 3;
const WEXITED = 4;
const WNOHANG = 1;
const PR_SET_CHILD_SUBREAPER = 36;
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;
const EPOLLIN = 1;
const TIOCSWINSZ = 0x5414;
const SCM_RIGHTS = 1;
const SOL_SOCKET = 1;
const MSG_DONTWAIT = 0x40;
const MSG_CMSG_CLOEXEC = 0x40000000;
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
// x86_64 packs epoll_event to 12 bytes; every other architecture pads it to 16.
const EPOLL_EVENT_SIZE = process.arch === 'x64' ? 12 : 16;
const EPOLL_DATA_OFFSET = process.arch === 'x64' ? 4 : 8;

let loaded: Libc | undefined;

export function libc(): Libc {
  loaded ??= load();
  return loaded;
}

function load(): Libc {
  if (process.platform !== 'linux') throw new Error('the runc backend needs Linux');
  const lib = koffi.load('libc.so.6');
  // koffi names types globally per thread; distinct names keep a second load harmless.
  const SigInfo = koffi.struct('podvisor_siginfo', {
    si_signo: 'int',
    si_errno: 'int',
    si_code: 'int',
    _pad: 'int',
    si_pid: 'int',
    si_uid: 'uint32',
    si_status: 'int',
    _rest: koffi.array('uint8', 100),
  });
  const SockaddrUn = koffi.struct('podvisor_sockaddr_un', { family: 'uint16', path: koffi.array('char', 108) });
  const Iovec = koffi.struct('podvisor_iovec', { base: 'void *', len: 'size_t' });
  koffi.struct('podvisor_msghdr', {
    name: 'void *',
    namelen: 'uint32',
    iov: koffi.pointer(Iovec),
    iovlen: 'size_t',
    control: 'void *',
    controllen: 'size_t',
    flags: 'int',
  });
  const Winsize = koffi.struct('podvisor_winsize', { row: 'ushort', col: 'ushort', xpixel: 'ushort', ypixel: 'ushort' });

  const pipe2 = lib.func('int pipe2(_Out_ int *fds, int flags)');
  const close = lib.func('int close(int fd)');
  const spawnp = lib.func('int posix_spawnp(_Out_ int *pid, const char *file, void *actions, void *attr, const char **argv, const char **envp)');
  const actionsInit = lib.func('int posix_spawn_file_actions_init(void *actions)');
  const actionsDup2 = lib.func('int posix_spawn_file_actions_adddup2(void *actions, int fd, int newfd)');
  const actionsDestroy = lib.func('int posix_spawn_file_actions_destroy(void *actions)');
  const attrInit = lib.func('int posix_spawnattr_init(void *attr)');
  const attrDestroy = lib.func('int posix_spawnattr_destroy(void *attr)');
  const attrSetFlags = lib.func('int posix_spawnattr_setflags(void *attr, short flags)');
  const attrSetSigDefault = lib.func('int posix_spawnattr_setsigdefault(void *attr, const void *set)');
  const attrSetSigMask = lib.func('int posix_spawnattr_setsigmask(void *attr, const void *set)');
  const sigfillset = lib.func('int sigfillset(void *set)');
  const sigemptyset = lib.func('int sigemptyset(void *set)');
  const syscall = lib.func('long syscall(long number, ...)');
  const waitid = lib.func(`int waitid(int idtype, int id, _Out_ ${'podvisor_siginfo'} *info, int options)`);
  const epollCreate1 = lib.func('int epoll_create1(int flags)');
  const epollCtl = lib.func('int epoll_ctl(int epfd, int op, int fd, void *event)');
  const epollWait = lib.func('int epoll_wait(int epfd, _Out_ void *events, int max, int timeout)');
  const eventfd = lib.func('int eventfd(unsigned int initval, int flags)');
  const write = lib.func('long write(int fd, const void *buf, size_t n)');
  const read = lib.func('long read(int fd, _Out_ void *buf, size_t n)');
  const prctl = lib.func('int prctl(int option, ...)');
  const socket = lib.func('int socket(int domain, int type, int protocol)');
  const bind = lib.func('int bind(int fd, podvisor_sockaddr_un *addr, uint32 len)');
  const listen = lib.func('int listen(int fd, int backlog)');
  const accept4 = lib.func('int accept4(int fd, void *addr, void *len, int flags)');
  const recvmsg = lib.func('long recvmsg(int fd, podvisor_msghdr *msg, int flags)');
  const ioctlWinsize = lib.func('int ioctl(int fd, unsigned long request, podvisor_winsize *ws)');
  const mount = lib.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)');
  const umount2 = lib.func('int umount2(const char *target, int flags)');
  void SigInfo;
  void Winsize;

  const sigAll = Buffer.alloc(128);
  const sigNone = Buffer.alloc(128);
  sigfillset(sigAll);
  sigemptyset(sigNone);

  return {
    errno: () => koffi.errno(),
    pipe2(flags) {
      const fds = [0, 0];
      if (pipe2(fds, flags) !== 0) throw new Error(`pipe2: errno ${koffi.errno()}`);
      return [fds[0] ?? -1, fds[1] ?? -1];
    },
    close: (fd) => close(fd) as number,
    posixSpawn(argv, env, stdio) {
      // glibc's posix_spawn shares the parent's memory until exec (CLONE_VM),
      // so its cost does not grow with the heap the way fork's does.
      const actions = Buffer.alloc(128);
      const attr = Buffer.alloc(512);
      actionsInit(actions);
      attrInit(attr);
      try {
        stdio.forEach((fd, target) => actionsDup2(actions, fd, target));
        // Node ignores SIGPIPE and blocks some signals; a container must start with the defaults.
        attrSetSigDefault(attr, sigAll);
        attrSetSigMask(attr, sigNone);
        attrSetFlags(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
        const pid = [0];
        const rc = spawnp(pid, argv[0] ?? '', actions, attr, [...argv, null], [...env, null]) as number;
        if (rc !== 0) throw Object.assign(new Error(`posix_spawnp ${argv[0]}: errno ${rc}`), { errno: rc });
        return pid[0] ?? -1;
      } finally {
        actionsDestroy(actions);
        attrDestroy(attr);
      }
    },
    pidfdOpen: (pid) => Number(syscall(SYS_PIDFD_OPEN, 'long', pid, 'unsigned int', 0)),
    waitPidfd(fd) {
      const info: { si_pid?: number; si_code?: number; si_status?: number } = {};
      if ((waitid(P_PIDFD, fd, info, WEXITED | WNOHANG) as number) !== 0) {
        throw Object.assign(new Error(`waitid: errno ${koffi.errno()}`), { errno: koffi.errno() });
      }
      if (!info.si_pid) return null;
      return { code: info.si_code ?? 0, status: info.si_status ?? 0 };
    },
    epollCreate: () => epollCreate1(O_CLOEXEC) as number,
    epollAdd(epfd, fd, data) {
      const ev = Buffer.alloc(EPOLL_EVENT_SIZE);
      ev.writeUInt32LE(EPOLLIN, 0);
      ev.writeUInt32LE(data >>> 0, EPOLL_DATA_OFFSET);
      return epollCtl(epfd, EPOLL_CTL_ADD, fd, ev) as number;
    },
    epollDel: (epfd, fd) => epollCtl(epfd, EPOLL_CTL_DEL, fd, Buffer.alloc(EPOLL_EVENT_SIZE)) as number,
    epollWait(epfd, out, max, timeoutMs) {
      const buf = Buffer.alloc(EPOLL_EVENT_SIZE * max);
      const n = epollWait(epfd, buf, max, timeoutMs) as number;
      out.length = 0;
      for (let i = 0; i < n; i++) out.push(buf.readUInt32LE(i * EPOLL_EVENT_SIZE + EPOLL_DATA_OFFSET));
      return n;
    },
    eventfd: () => eventfd(0, O_CLOEXEC | O_NONBLOCK) as number,
    eventfdWrite(fd) {
      const one = Buffer.alloc(8);
      one.writeBigUInt64LE(1n);
      return Number(write(fd, one, 8));
    },
    eventfdRead: (fd) => Number(read(fd, Buffer.alloc(8), 8)),
    setChildSubreaper: () => prctl(PR_SET_CHILD_SUBREAPER, 'unsigned long', 1, 'unsigned long', 0, 'unsigned long', 0, 'unsigned long', 0) as number,
    unixListen(path) {
      const fd = socket(1 /* AF_UNIX */, 1 /* SOCK_STREAM */ | O_NONBLOCK | O_CLOEXEC, 0) as number;
      if (fd < 0) throw new Error(`socket: errno ${koffi.errno()}`);
      if ((bind(fd, { family: 1, path }, 2 + Buffer.byteLength(path) + 1) as number) !== 0 || (listen(fd, 4) as number) !== 0) {
        const errno = koffi.errno();
        close(fd);
        throw new Error(`console socket ${path}: errno ${errno}`);
      }
      return fd;
    },
    acceptNonblocking: (fd) => accept4(fd, null, null, O_NONBLOCK | O_CLOEXEC) as number,
    receiveFd(fd) {
      const data = Buffer.alloc(4096);
      const control = Buffer.alloc(64);
      const msg = { name: null, namelen: 0, iov: [{ base: data, len: data.length }], iovlen: 1, control, controllen: control.length, flags: 0 };
      const n = Number(recvmsg(fd, msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC));
      // struct cmsghdr: size_t len, int level, int type, then the fds.
      if (n < 0 || control.readBigUInt64LE(0) < 20n) return -1;
      if (control.readInt32LE(8) !== SOL_SOCKET || control.readInt32LE(12) !== SCM_RIGHTS) return -1;
      return control.readInt32LE(16);
    },
    setWindowSize: (fd, rows, cols) => ioctlWinsize(fd, TIOCSWINSZ, { row: rows, col: cols, xpixel: 0, ypixel: 0 }) as number,
    mount: (source, target, fstype, flags, data) => mount(source, target, fstype, flags, data) as number,
    umount: (target, flags) => umount2(target, flags) as number,
  };
}

/** The exit status a shell would show: the code, or 128 + the signal that ended it. */
export function exitStatusOf(code: number, status: number): number {
  return code === CLD_EXITED ? status : 128 + status;
}
