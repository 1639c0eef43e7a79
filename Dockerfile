# One image for both processes: `npm start` (api) and `npm run runner` (runner).
FROM node:20-bookworm-slim
WORKDIR /app
# The Vulkan loader for runners on onnxruntime's WebGPU provider; an NVIDIA host's container toolkit mounts the
# driver's Vulkan ICD when the container asks for the "graphics" capability (docker-compose.yml, docs/operations.md).
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends libvulkan1 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
COPY package.json package-lock.json ./
COPY prisma ./prisma
COPY prisma.config.ts tsconfig.json ./
# Dev dependencies too: the console (web/) is built with Vite at image build time; `npm start`'s prestart then
# finds web/dist up to date and only starts the api.
RUN npm ci --no-audit --no-fund --include=dev
COPY . .
RUN npm run build:web
EXPOSE 4000
CMD ["npm", "start"]
