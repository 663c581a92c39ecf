"""The bad-input corpus (issue 4): every kind of broken or hostile input an agency system can put
on its ingest topic, each as a small builder of the exact bytes produced and the files staged in
S3, with the outcome the pipeline must give it written beside it. tests/integration/
test_bad_input.py sends the whole corpus to a running worker."""
