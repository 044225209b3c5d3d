// Each topic file adds its functions to the module's exports.
#pragma once

#include <napi.h>

namespace vduse {

void RegisterFdIo(Napi::Env env, Napi::Object exports);       // fd-io.cc
void RegisterMemoryFds(Napi::Env env, Napi::Object exports);  // memory-fds.cc
void RegisterMmap(Napi::Env env, Napi::Object exports);       // mmap.cc
void RegisterThread(Napi::Env env, Napi::Object exports);     // thread.cc
void RegisterWatch(Napi::Env env, Napi::Object exports);      // watch.cc
void RegisterPoll(Napi::Env env, Napi::Object exports);       // poll.cc
void RegisterNetlink(Napi::Env env, Napi::Object exports);    // netlink.cc
void RegisterIoUring(Napi::Env env, Napi::Object exports);    // io-uring-object.cc
Napi::Object MakeConstants(Napi::Env env);                    // constants.cc

}  // namespace vduse
