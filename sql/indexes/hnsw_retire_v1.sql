-- Feed queries search rank vectors now, so no feed needs this index any more, even
-- feeds still installed at an older version: it only slows down embedding writes.
DROP INDEX IF EXISTS {index};
