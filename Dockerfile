# One image for both processes: `npm start` (api) and `npm run runner` (runner).
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
COPY prisma ./prisma
COPY prisma.config.ts tsconfig.json ./
RUN npm ci --no-audit --no-fund
COPY . .
EXPOSE 4000
CMD ["npm", "start"]
