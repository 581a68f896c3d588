-- 0013: which scheme computed each article's MinHash signature (issue 15). The signature changed from datasketch's
-- MinHash (sha1 of every shingle, 126 permutations) to one permutation hashing over per-word hashes
-- (streams/pipeline/stages/stories.py): values of two schemes estimate nothing when compared, so the story index
-- rebuild (streams/runtime/story_index_loader.py) uses only signatures of the running scheme. Rows written before
-- this migration, or by a worker not yet upgraded, read the default: the old scheme.
ALTER TABLE articles ADD COLUMN IF NOT EXISTS minhash_scheme LowCardinality(String) DEFAULT 'sha1-affine32-w3-126' AFTER minhash;
