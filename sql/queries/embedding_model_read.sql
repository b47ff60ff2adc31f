-- The model whose vectors the feed serves. FOR SHARE: a swap takes this row FOR
-- UPDATE, so it cannot commit between this read and the writes it decides.
SELECT identity FROM dnf_embedding_model WHERE feed_id = %(feed_id)s FOR SHARE
