// Original file: protos/palisade/v1/integrations.proto


export interface WatchIdentitiesRequest {
}

export interface WatchIdentitiesRequest__Output {
}
