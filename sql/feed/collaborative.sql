-- Stage two's collaborative signal: inner product between the item's collaborative
-- vector and the user's, 0 without either.
coalesce(-(
    SELECT f.factor <#> {profile}
    FROM dnf_item_factor f
    WHERE f.feed_id = %s AND f.item_key = ({key})::text
), 0.0)
