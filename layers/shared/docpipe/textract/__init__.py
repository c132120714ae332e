"""Amazon Textract: plans and calls (`jobs`) and page-at-a-time reading of its responses (`blocks`)."""
