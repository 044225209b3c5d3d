{
  "targets": [
    {
      "target_name": "vduse_native",
      "conditions": [
        ["OS=='linux'", {
          "sources": [
            "native/addon.cc",
            "native/args.cc",
            "native/constants.cc",
            "native/errors.cc",
            "native/fd-io.cc",
            "native/io-uring.cc",
            "native/io-uring-object.cc",
            "native/memory-fds.cc",
            "native/mmap.cc",
            "native/netlink.cc",
            "native/poll.cc",
            "native/segments.cc",
            "native/thread.cc",
            "native/watch.cc"
          ],
          "dependencies": [
            "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"
          ],
          "defines": [
            "NAPI_VERSION=8",
            "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"
          ],
          "cflags_cc!": ["-std=gnu++17"],
          "cflags_cc": ["-std=c++17"],
          "configurations": {
            "Release": {
              "cflags!": ["-O3"],
              "cflags": ["-O2"]
            }
          }
        }, {
          "type": "none"
        }]
      ]
    },
    {
      "target_name": "vduse_bench",
      "conditions": [
        ["OS=='linux' and '<!(node -p \"require('fs').existsSync('bench/native/engine.cc')\")'=='true'", {
          "sources": [
            "bench/native/addon.cc",
            "bench/native/engine.cc",
            "bench/native/wake.cc"
          ],
          "dependencies": [
            "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"
          ],
          "defines": [
            "NAPI_VERSION=8",
            "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"
          ],
          "cflags_cc!": ["-std=gnu++17"],
          "cflags_cc": ["-std=c++17"],
          "configurations": {
            "Release": {
              "cflags!": ["-O3"],
              "cflags": ["-O2"]
            }
          }
        }, {
          "type": "none"
        }]
      ]
    }
  ]
}
