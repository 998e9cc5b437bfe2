# tokenmeter with llama.cpp's CUDA backend, for GPU nodes (Kubernetes, or Slurm with containers).
#
#   docker build -t tokenmeter:cuda .
#   docker build --build-arg CUDA_ARCHITECTURES=90 -t tokenmeter:cuda-h100 .   # one GPU generation: a faster build
#   docker run --rm --gpus all tokenmeter:cuda bench -p 512 -n 128
#
# Two stages: the build runs on CUDA's development image (nvcc, headers, the driver's link stub); the run image is
# CUDA's runtime image (libcudart, libcublas) with the binary and the one library it links beyond those (libgomp).
# The driver (libcuda, libnvidia-ml for power readings) comes from the host through the NVIDIA container toolkit.

ARG CUDA_VERSION=12.4.1
ARG UBUNTU=ubuntu22.04

FROM nvidia/cuda:${CUDA_VERSION}-devel-${UBUNTU} AS build
ARG CUDA_ARCHITECTURES="80;86;89;90"
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates curl git cmake clang libclang-dev pkg-config build-essential \
 && rm -rf /var/lib/apt/lists/*
RUN curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --default-toolchain stable
ENV PATH=/root/.cargo/bin:$PATH \
    CMAKE_CUDA_ARCHITECTURES=${CUDA_ARCHITECTURES} \
    LIBRARY_PATH=/usr/local/cuda/lib64/stubs
WORKDIR /src
COPY . .
RUN cargo build --release --locked --features cuda --bin tokenmeter \
 && cp target/release/tokenmeter /usr/local/bin/tokenmeter

FROM nvidia/cuda:${CUDA_VERSION}-runtime-${UBUNTU}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/local/bin/tokenmeter /usr/local/bin/tokenmeter
COPY models.toml /etc/tokenmeter/models.toml
ENV TOKENMETER_CACHE_DIR=/cache
WORKDIR /work
ENTRYPOINT ["tokenmeter"]
CMD ["--help"]
