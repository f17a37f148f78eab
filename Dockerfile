# syntax=docker/dockerfile:1
# The tidemark image: the sidecar binary on Debian bookworm-slim with only its
# runtime libraries, run as a non-root user. See docs/deploy.md.
#
#   docker build -t tidemark:0.1.0 .
#   docker run --rm tidemark:0.1.0 version
#
# The Helm chart (helm/tidemark) runs /usr/local/bin/tidemark serve --config
# /etc/tidemark/tidemark.yaml with a read-only root filesystem; the store
# (/var/lib/tidemark) and /tmp are volumes.

# ---- build: the project's CMake build, as scripts/build does it (preset
# "default", RelWithDebInfo), without the test suite and only the sidecar.
FROM debian:bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      g++ cmake ninja-build pkg-config python3 \
      librdkafka-dev libevent-dev libssl-dev libsqlite3-dev \
      libprotobuf-dev protobuf-compiler nlohmann-json3-dev libyaml-cpp-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt CMakePresets.json ./
COPY protocol/ protocol/
COPY store/ store/
COPY sidecar/ sidecar/
COPY bench/ bench/
# Only the clients' CMakeLists.txt: it adds a language folder only if present,
# so the image builds no client library and needs none of their toolchains.
COPY clients/CMakeLists.txt clients/
RUN cmake --preset default -DTIDEMARK_BUILD_TESTS=OFF \
 && cmake --build --preset default --target tidemark \
 && strip --strip-debug build/tidemark \
 && build/tidemark version

# ---- runtime: Debian bookworm's runtime packages of the libraries we link.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      librdkafka1 \
      libevent-2.1-7 libevent-core-2.1-7 libevent-pthreads-2.1-7 libevent-openssl-2.1-7 \
      libssl3 libsqlite3-0 libprotobuf32 libyaml-cpp0.7 \
      ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 tidemark \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/tidemark \
      --no-create-home --shell /usr/sbin/nologin tidemark \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/tidemark \
 && install -d -m 0755 /etc/tidemark
COPY --from=build /src/build/tidemark /usr/local/bin/tidemark
# Fails the build if a runtime library is missing.
RUN /usr/local/bin/tidemark version
USER 10001:10001
WORKDIR /var/lib/tidemark
# Documentation only: the proxy and the HTTP API listen on 127.0.0.1 by default.
EXPOSE 19092 8770
ENTRYPOINT ["/usr/local/bin/tidemark"]
CMD ["serve", "--config", "/etc/tidemark/tidemark.yaml"]
