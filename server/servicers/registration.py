"""Register the servicers with deserializers that never fail: a request whose bytes are not a valid message of its
type is answered INVALID_ARGUMENT naming the type, where gRPC's generated registration would answer UNKNOWN (an
unhandled DecodeError). No RPC answers UNKNOWN or INTERNAL for a client's bad input (issue 11, item 6)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import DecodeError

from motion_retrieval.serving.inputs import InputError
from motion_retrieval_server.api import embedding_pb2, search_pb2


@dataclass(frozen=True)
class Undecodable:
    """Stands in for a request that did not parse."""

    type_name: str
    problem: str

    @property
    def message(self) -> str:
        return f"request: not a valid {self.type_name} message ({self.problem})"


def _deserializer(message_class) -> Callable[[bytes], object]:
    def deserialize(data: bytes):
        try:
            return message_class.FromString(data)
        except (DecodeError, ValueError, RuntimeError) as exc:  # protobuf raises these for malformed bytes
            return Undecodable(message_class.DESCRIPTOR.full_name, str(exc) or type(exc).__name__)

    return deserialize


def _unary(method):
    async def handler(request, context):
        if isinstance(request, Undecodable):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, request.message)
        return await method(request, context)

    return handler


def _client_stream(method):
    async def handler(request_iterator, context):
        async def checked() -> AsyncIterator:
            async for request in request_iterator:
                if isinstance(request, Undecodable):
                    raise InputError("request", request.message.removeprefix("request: "))
                yield request

        return await method(checked(), context)

    return handler


def generic_handler(service: ServiceDescriptor, servicer) -> grpc.GenericRpcHandler:
    """The method handlers of ``service`` calling ``servicer``'s methods of the same names (unary-unary and
    client-streaming, the shapes our API uses)."""
    handlers = {}
    for method in service.methods:
        request_class = message_factory.GetMessageClass(method.input_type)
        response_class = message_factory.GetMessageClass(method.output_type)
        implementation = getattr(servicer, method.name)
        if method.client_streaming and not method.server_streaming:
            handlers[method.name] = grpc.stream_unary_rpc_method_handler(
                _client_stream(implementation), request_deserializer=_deserializer(request_class),
                response_serializer=response_class.SerializeToString)
        elif not method.client_streaming and not method.server_streaming:
            handlers[method.name] = grpc.unary_unary_rpc_method_handler(
                _unary(implementation), request_deserializer=_deserializer(request_class),
                response_serializer=response_class.SerializeToString)
        else:
            raise ValueError(f"{service.full_name}/{method.name}: streaming responses are not part of our API")
    return grpc.method_handlers_generic_handler(service.full_name, handlers)


def add_servicers(server: grpc.aio.Server, embedding_servicer, search_servicer) -> None:
    """EmbeddingService and SearchService (either servicer: the real one or the disabled one) on ``server``."""
    server.add_generic_rpc_handlers((
        generic_handler(embedding_pb2.DESCRIPTOR.services_by_name["EmbeddingService"], embedding_servicer),
        generic_handler(search_pb2.DESCRIPTOR.services_by_name["SearchService"], search_servicer),
    ))
