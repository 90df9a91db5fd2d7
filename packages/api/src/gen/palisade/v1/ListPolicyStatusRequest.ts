// Original file: protos/palisade/v1/integrations.proto


export interface ListPolicyStatusRequest {
}

export interface ListPolicyStatusRequest__Output {
}
