/** @module web/lib/fragments — selections shared by several pages (and the type of the REST routes' reports). */
import { graphql } from "../gql/index.ts";

export const ReportFields = graphql(`
  fragment ReportFields on DatasetValidationReport {
    format
    totalLines
    accepted
    rejected
    issuesTruncated
    bytes
    gzip
    issues {
      line
      code
      reason
    }
    countsByCode {
      code
      count
    }
    splitCounts {
      train
      validation
      test
    }
    labelCounts {
      label
      preferResponse0
      preferResponse1
    }
  }
`);

export const DatasetFields = graphql(`
  fragment DatasetFields on Dataset {
    id
    name
    format
    status
    recordCount
    byteSize
    sha256
    createdAt
    updatedAt
    dimensionMap {
      label
      dimensionId
    }
    splitRatios {
      train
      validation
      test
    }
    splitCounts {
      train
      validation
      test
    }
    downloadUrl
  }
`);

export const ModelFields = graphql(`
  fragment ModelFields on Model {
    id
    name
    kind
    format
    location
    sha256
    sizeBytes
    storedBytes
    vocabSize
    tokenizerHash
    config
    dimensionId
    createdAt
    promptTemplate
    downloadUrl
  }
`);
