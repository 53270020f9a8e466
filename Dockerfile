# One image for every dagproc role in compose.yaml (init, token-refresher, api-server,
# dag-processor); the service's command picks the role. TypeScript runs through tsx, as with
# `pnpm start`, so there is no compile step: tsx is a production dependency (package.json's
# "dependencies") and the image holds the sources.

# --- base: Node and the pnpm that runs the package scripts ------------------------------------
FROM node:20-bookworm-slim AS base

# git (and ssh for ssh:// repositories) for git bundles; the slim image has neither.
RUN apt-get update && apt-get install -y --no-install-recommends git openssh-client ca-certificates && rm -rf /var/lib/apt/lists/*

# Exactly the version in package.json's "packageManager" (tests/compose.test.ts keeps them in
# step): pnpm 10 fetches the declared version by itself when another one runs a script, and
# that would be a network fetch at every container start.
ARG PNPM_VERSION=10.34.9
RUN npm install -g "pnpm@${PNPM_VERSION}" && npm cache clean --force

WORKDIR /app

# --- deps: production dependencies only, installed from the lockfile -------------------------
FROM base AS deps

# The manifests and the lockfile alone, so a source edit does not re-install. Every workspace
# package's manifest is needed: the frozen install checks the lockfile against all of them.
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./
COPY shared/package.json shared/
COPY server/package.json server/
COPY processor/package.json processor/
COPY tests/package.json tests/
# --prod: no TypeScript compiler, vitest, msw or drizzle-kit. The package store stays in this
# stage; the final one gets only the installed node_modules.
RUN pnpm install --frozen-lockfile --prod

# --- runtime ------------------------------------------------------------------------------------
FROM base AS runtime
ENV NODE_ENV=production

COPY --from=deps /app/ ./
COPY . .

# The token volume's mount point. Docker seeds a new named volume with the ownership and mode
# of the image's directory, so this is what lets the non-root init write the token there and
# keeps it private to that user.
RUN mkdir -p /run/dagproc && chown node:node /run/dagproc && chmod 0700 /run/dagproc

# The code and node_modules stay root-owned: the processor, which runs DAG authors' code,
# cannot modify them.
USER node
EXPOSE 8080
CMD ["pnpm", "start:server"]
