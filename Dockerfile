# imagegate container image.
#
# Two stages: the builder compiles the TypeScript, builds the kubelet
# credential provider plugin as a self-contained executable (esbuild + Node's
# single executable applications + postject, dev dependencies) and prunes node_modules to
# production dependencies; the runtime is a distroless Node.js base (no
# shell, no package manager) running as UID 65532. Both bases are build
# arguments pinned by digest. Where no registry is reachable (this project's
# CI), pass locally made bases: see test/install/make-bases.sh.
#
# Dependencies come from the build context (run `npm ci` first), because the
# builder may have no registry access; native add-ons in node_modules
# (optional in ssh2 and cpu-features, both with pure-JS fallbacks) are
# removed, so the same context builds linux/amd64 and linux/arm64 (`docker
# buildx build --platform linux/amd64,linux/arm64 .`). imagegate's own add-on,
# the registry facade's zero-copy blob relay, is kept when it loads in the
# builder (the context's, built by npm install for the same architecture) or
# is rebuilt there when the builder has a compiler; otherwise the facade
# streams blobs and says so at start-up.
#
# Node.js 24 LTS in both stages (Node 20 reached end of life in April 2026):
# the builder's node is also the one the credential provider executable is
# made from, so the two must move together.
ARG BUILDER_IMAGE=node:24-bookworm-slim@sha256:6f7b03f7c2c8e2e784dcf9295400527b9b1270fd37b7e9a7285cf83b6951452d
ARG BASE_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot@sha256:14d42e2511532589a7c7e01a753667a74fcc96266e137e8125006b87b0c32d0a

FROM ${BUILDER_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY node_modules ./node_modules
COPY proto ./proto
COPY bin ./bin
COPY src ./src
COPY hostpatch ./hostpatch
RUN npm run build \
 && node dist/src/credential-provider/build.js /out/credential-provider/imagegate-credential-provider 2>/dev/null \
 && /out/credential-provider/imagegate-credential-provider version \
 && npm prune --omit=dev --no-audit --no-fund --offline \
 && find node_modules -name '*.node' -delete \
 && rm -rf node_modules/.cache dist/test dist/testing dist/bench \
 && addon=./src/registry/http/splice/build/Release/splice.node \
 && mkdir -p /out/splice \
 && { node -e "require('$addon')" 2>/dev/null || npm run install; } \
 && if node -e "require('$addon')" 2>/dev/null; then cp "$addon" /out/splice/; fi \
 && printf '#!/nodejs/bin/node\nrequire("/app/dist/bin/main.js").main(process.argv.slice(2));\n' > /out/imagegate \
 && chmod 0755 /out/imagegate

FROM ${BASE_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=https://github.com/imagegate/imagegate
LABEL org.opencontainers.image.title="imagegate" \
      org.opencontainers.image.description="CRI image service, registry facade and outbound JWT proxy that mint short-lived AWS credentials" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/proto ./proto
COPY --from=build /out/splice ./src/registry/http/splice/build/Release
# kubelet's credential provider plugin as one self-contained executable (Node's
# single executable application: the builder's node binary with the bundled
# plugin injected). The DaemonSet's credential-provider overlays copy it into
# kubelet's bin dir on the host, which has no Node.js.
COPY --from=build /out/credential-provider/imagegate-credential-provider /app/credential-provider/imagegate-credential-provider
# A script the kernel runs with the base's /nodejs/bin/node (no shell needed),
# so `imagegate …` works as the entrypoint and in exec probes.
COPY --from=build /out/imagegate /usr/local/bin/imagegate
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/imagegate"]
