package kubernetes

// PathHash is pathHash for the tests (the hashes of a suspension trigger).
var PathHash = pathHash
