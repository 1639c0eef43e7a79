-- CreateEnum
CREATE TYPE "PromptTemplate" AS ENUM ('HH', 'PKU', 'PLAIN');

-- AlterTable
ALTER TABLE "models" ADD COLUMN     "prompt_template" "PromptTemplate";
