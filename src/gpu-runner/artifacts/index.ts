/** @module gpu-runner/artifacts — the artifact store (over the bus's artifact facet, or in memory) and the runner's local cache by digest. */
export { busArtifactStore, memoryArtifacts, sha256Hex, ArtifactStoreError, type ArtifactStore, type StoredArtifact } from "./store.ts";
export {
  createArtifactCache,
  parseLocation,
  ArtifactUnavailableError,
  ArtifactDigestMismatchError,
  type ArtifactCache,
  type ParsedLocation,
} from "./cache.ts";
