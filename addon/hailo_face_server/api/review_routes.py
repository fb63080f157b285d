"""Routes of what the cameras saw: the sightings feed, unknown-face clusters, labelling, negatives."""

from __future__ import annotations

from aiohttp import web

from hailo_face_server.api import models as m
from hailo_face_server.api.contract import JPEG, operation, path_id
from hailo_face_server.api.keys import SERVICE
from hailo_face_server.sightings.store import SightingQuery

routes = web.RouteTableDef()
IMAGE_CACHE = {"Cache-Control": "private, max-age=3600"}


def _jpeg(data: bytes) -> web.Response:
    return web.Response(body=data, content_type=JPEG, headers=IMAGE_CACHE)


@operation(
    routes,
    "GET",
    "/v1/sightings",
    summary="The faces the cameras saw, newest first",
    description="Filters combine; page with `cursor` (the previous page's `next_cursor`).",
    query=m.SightingsQuery,
    response=m.SightingsPage,
    errors=("400",),
)
async def list_sightings(request: web.Request, query: m.SightingsQuery, _: None) -> m.SightingsPage:
    review = request.app[SERVICE].review
    identity_id = None
    if query.person is not None:  # a filter: a name nobody has matches no sighting (not a 404)
        identity_id = await request.app[SERVICE].people.identity_id(query.person)
    page = await review.sightings(
        SightingQuery(
            source=query.source,
            identity_id=identity_id,
            outcome=query.outcome,
            cluster_id=query.cluster_id,
            since=query.since,
            until=query.until,
            limit=query.limit,
            cursor=query.cursor,
        )
    )
    return m.SightingsPage.of(page)


@operation(
    routes,
    "GET",
    "/v1/sightings/summary",
    summary="Per camera and per person: how many, last seen where and when",
    response=m.Summary,
    errors=("400",),
)
async def summary(request: web.Request, _: None, __: None) -> m.Summary:
    return m.Summary.of(await request.app[SERVICE].review.summary())


@operation(routes, "GET", "/v1/sightings/{sighting_id}", summary="One sighting", response=m.SightingOut)
async def get_sighting(request: web.Request, _: None, __: None) -> m.SightingOut:
    sighting_id = path_id(request, "sighting_id", "sighting")
    return m.SightingOut.of(await request.app[SERVICE].review.sighting(sighting_id))


@operation(routes, "GET", "/v1/sightings/{sighting_id}/image", summary="A sighting's face crop (JPEG)")
async def sighting_image(request: web.Request, _: None, __: None) -> web.Response:
    sighting_id = path_id(request, "sighting_id", "sighting")
    return _jpeg(await request.app[SERVICE].review.crop(sighting_id))


@operation(
    routes, "DELETE", "/v1/sightings/{sighting_id}", summary="Delete a sighting and its crop", response=m.Deleted
)
async def delete_sighting(request: web.Request, _: None, __: None) -> m.Deleted:
    sighting_id = path_id(request, "sighting_id", "sighting")
    await request.app[SERVICE].review.delete_sighting(sighting_id)
    return m.Deleted(deleted_sighting_ids=[sighting_id])


@operation(
    routes,
    "POST",
    "/v1/sightings/{sighting_id}/reject",
    summary='"Not this person": the face becomes a negative sample of the identity it was named as',
    description='With `name`, it is also taught as that person at once ("this is Bob, not Alice").',
    body=m.Reject,
    response=m.Rejected,
    errors=("400", "404", "409", "415", "507"),
)
async def reject(request: web.Request, _: None, body: m.Reject) -> m.Rejected:
    sighting_id = path_id(request, "sighting_id", "sighting")
    result = await request.app[SERVICE].review.reject(sighting_id, body.name)
    return m.Rejected.of(result)


@operation(
    routes,
    "POST",
    "/v1/sightings/label",
    summary="These sightings are this person (new or known): the best become samples",
    body=m.LabelSightings,
    response=m.Labelled,
    errors=("400", "404", "409", "415", "507"),
)
async def label_sightings(request: web.Request, _: None, body: m.LabelSightings) -> m.Labelled:
    result = await request.app[SERVICE].review.label(body.name, sighting_ids=list(body.sighting_ids))
    return m.Labelled.of(result)


@operation(
    routes,
    "POST",
    "/v1/sightings/ignore",
    summary="These faces are a poster, a photo or a TV: reported as ignored from now on",
    body=m.IgnoreSightings,
    response=m.Labelled,
    errors=("400", "404", "409", "415", "507"),
)
async def ignore_sightings(request: web.Request, _: None, body: m.IgnoreSightings) -> m.Labelled:
    result = await request.app[SERVICE].review.ignore(sighting_ids=list(body.sighting_ids))
    return m.Labelled.of(result)


@operation(
    routes,
    "GET",
    "/v1/clusters",
    summary="Unknown faces grouped by person, largest and newest first; low-quality faces apart",
    query=m.ClustersQuery,
    response=m.ClustersOut,
    errors=("400",),
)
async def list_clusters(request: web.Request, query: m.ClustersQuery, _: None) -> m.ClustersOut:
    return m.ClustersOut.of(await request.app[SERVICE].review.clusters(query.low_quality_limit))


@operation(routes, "GET", "/v1/clusters/{cluster_id}", summary="A cluster's sightings", response=m.ClusterDetail)
async def get_cluster(request: web.Request, _: None, __: None) -> m.ClusterDetail:
    cluster_id = path_id(request, "cluster_id", "cluster")
    members = await request.app[SERVICE].review.cluster(cluster_id)
    return m.ClusterDetail(id=cluster_id, sightings=[m.SightingOut.of(r) for r in members])


@operation(
    routes,
    "POST",
    "/v1/clusters/{cluster_id}/label",
    summary="This cluster is this person (new or known): the best and most varied faces become samples",
    body=m.LabelCluster,
    response=m.Labelled,
    errors=("400", "404", "409", "415", "507"),
)
async def label_cluster(request: web.Request, _: None, body: m.LabelCluster) -> m.Labelled:
    cluster_id = path_id(request, "cluster_id", "cluster")
    result = await request.app[SERVICE].review.label(body.name, cluster_id=cluster_id)
    return m.Labelled.of(result)


@operation(
    routes,
    "POST",
    "/v1/clusters/{cluster_id}/ignore",
    summary="This cluster is a poster, a photo or a TV: its faces are reported as ignored from now on",
    body=m.Empty,
    response=m.Labelled,
    errors=("400", "404", "409", "415", "507"),
)
async def ignore_cluster(request: web.Request, _: None, __: m.Empty) -> m.Labelled:
    cluster_id = path_id(request, "cluster_id", "cluster")
    result = await request.app[SERVICE].review.ignore(cluster_id=cluster_id)
    return m.Labelled.of(result)


@operation(
    routes, "DELETE", "/v1/clusters/{cluster_id}", summary="Dismiss a cluster: delete its sightings", response=m.Deleted
)
async def dismiss_cluster(request: web.Request, _: None, __: None) -> m.Deleted:
    cluster_id = path_id(request, "cluster_id", "cluster")
    return m.Deleted(deleted_sighting_ids=await request.app[SERVICE].review.dismiss_cluster(cluster_id))


@operation(
    routes,
    "GET",
    "/v1/database/{name}/negatives",
    summary='The faces said to be "not this person"',
    response=m.Negatives,
    tag="gallery",
)
async def list_negatives(request: web.Request, _: None, __: None) -> m.Negatives:
    people = request.app[SERVICE].people
    name = request.match_info["name"]
    identity = await people.identity(name)
    return m.Negatives(
        identity=m.IdentityOut.of(identity), negatives=[m.NegativeOut.of(n) for n in await people.negatives(name)]
    )


@operation(
    routes,
    "DELETE",
    "/v1/database/{name}/negatives/{negative_id}",
    summary="Remove a negative sample",
    response=m.DeletedNegative,
    tag="gallery",
)
async def delete_negative(request: web.Request, _: None, __: None) -> m.DeletedNegative:
    negative_id = path_id(request, "negative_id", "negative sample")
    record = await request.app[SERVICE].people.delete_negative(request.match_info["name"], negative_id)
    return m.DeletedNegative(deleted_negative_id=negative_id, identity=m.IdentityOut.of(record))


@operation(
    routes,
    "GET",
    "/v1/database/{name}/negatives/{negative_id}/image",
    summary="A negative sample's face crop (JPEG)",
    tag="gallery",
)
async def negative_image(request: web.Request, _: None, __: None) -> web.Response:
    negative_id = path_id(request, "negative_id", "negative sample")
    return _jpeg(await request.app[SERVICE].people.negative_image(request.match_info["name"], negative_id))
