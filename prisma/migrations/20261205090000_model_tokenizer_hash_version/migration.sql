-- Model.tokenizerHashVersion: the vocabulary digest tokenizer_hash was computed with. Rows already stored hold the
-- api's former digest (version 1, NUL-terminated tokens), which the api recomputes at start
-- (src/api/services/tokenizer-hash-migration.ts). New rows are computed with formats' vocabularyDigest (version 2).
ALTER TABLE "models" ADD COLUMN "tokenizer_hash_version" INTEGER NOT NULL DEFAULT 1;
ALTER TABLE "models" ALTER COLUMN "tokenizer_hash_version" SET DEFAULT 2;
