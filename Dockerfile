# Ordeal's image, for the Kubernetes run (`ordeal k8s manifest`, README "Running on Kubernetes").
# Layout the manifests rely on (harness/k8s/manifest.ts, IMAGE_LAYOUT):
#   /ordeal      the package (dist/, the built-in scenarios, production node_modules)
#   ordeal       on the PATH, the image's entrypoint
#   /scenario    the scenario's ConfigMap, mounted by the manifests
#   /data        the shared volume: mocks/, segments/<i>/, report/
#   /work        a pod's own disk (the started shop's database)
# It runs as the unprivileged user node (uid 1000) with a read-only root file system.
#
#   docker build -t ordeal:0.1.0 .

FROM node:20-bookworm-slim AS build
WORKDIR /ordeal
# better-sqlite3 builds from source when no prebuilt binary fits.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY core core
COPY harness harness
COPY memory memory
COPY mocks mocks
COPY reports reports
COPY shop shop
COPY examples examples
COPY scenarios scenarios
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /ordeal
COPY --from=build /ordeal/package.json ./package.json
COPY --from=build /ordeal/node_modules ./node_modules
COPY --from=build /ordeal/dist ./dist
COPY --from=build /ordeal/scenarios ./scenarios
RUN ln -s /ordeal/dist/harness/cli.js /usr/local/bin/ordeal && chmod +x /ordeal/dist/harness/cli.js \
  && mkdir -p /scenario /data /work && chown node:node /data /work
USER node
ENTRYPOINT ["ordeal"]
CMD ["--help"]
