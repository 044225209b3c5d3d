// Values from the C headers, so JS never hard-codes an ABI number.
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <uv.h>

#include "addon.h"

namespace vduse {

Napi::Object MakeConstants(Napi::Env env) {
  Napi::Object c = Napi::Object::New(env);
  auto set = [&](const char* name, int64_t value) { c.Set(name, Napi::Number::New(env, static_cast<double>(value))); };

  set("O_RDONLY", O_RDONLY);
  set("O_WRONLY", O_WRONLY);
  set("O_RDWR", O_RDWR);
  set("O_NONBLOCK", O_NONBLOCK);
  set("O_CLOEXEC", O_CLOEXEC);
  set("O_CREAT", O_CREAT);
  set("O_DIRECT", O_DIRECT);

  set("EFD_NONBLOCK", EFD_NONBLOCK);
  set("EFD_CLOEXEC", EFD_CLOEXEC);
  set("EFD_SEMAPHORE", EFD_SEMAPHORE);
  set("MFD_CLOEXEC", MFD_CLOEXEC);

  set("PROT_READ", PROT_READ);
  set("PROT_WRITE", PROT_WRITE);
  set("MAP_SHARED", MAP_SHARED);
  set("MADV_HUGEPAGE", MADV_HUGEPAGE);

  set("FALLOC_FL_KEEP_SIZE", FALLOC_FL_KEEP_SIZE);
  set("FALLOC_FL_PUNCH_HOLE", FALLOC_FL_PUNCH_HOLE);
  set("FALLOC_FL_ZERO_RANGE", FALLOC_FL_ZERO_RANGE);

  set("AF_NETLINK", AF_NETLINK);
  set("SOCK_RAW", SOCK_RAW);
  set("SOCK_CLOEXEC", SOCK_CLOEXEC);
  set("NETLINK_GENERIC", NETLINK_GENERIC);

  set("POLLIN", POLLIN);
  set("POLLOUT", POLLOUT);
  set("POLLERR", POLLERR);
  set("POLLHUP", POLLHUP);

  set("UV_READABLE", UV_READABLE);
  set("UV_WRITABLE", UV_WRITABLE);

  c.Freeze();
  return c;
}

}  // namespace vduse
