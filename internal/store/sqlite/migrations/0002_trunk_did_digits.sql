-- 0002: a DID is one number whether or not it is written with its leading "+":
-- routing indexes DIDs by their digits, so "+4930123" on one trunk and "4930123"
-- on another would silently shadow each other. The API only stores DIDs made of
-- digits with an optional leading "+", so ltrim(did, '+') is the digits, and this
-- index makes them unique across all trunks (a violation is store.ErrConflict).
CREATE UNIQUE INDEX trunk_dids_digits ON trunk_dids (ltrim(did, '+'));
