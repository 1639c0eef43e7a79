-- DropIndex
DROP INDEX "dataset_records_dataset_id_split_idx";

-- CreateIndex
CREATE INDEX "dataset_records_dataset_id_split_pair_hash_idx" ON "dataset_records"("dataset_id", "split", "pair_hash");
